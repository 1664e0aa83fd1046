"""The earlier Signal Sentinel's stack serving `GET /api/alerts` — the peer of benches/http_load.sh.

FastAPI + SQLAlchemy (ORM, SQLite) + PyJWT, as the earlier service was written: a bearer token
checked with the same secret, issuer and audience as `invest serve`, then the caller's newest
alerts read from the same database file and returned as the same page (fields, values and
cursor; pydantic spells UTC as `Z` where poem writes `+00:00`). Run by the load
script under one uvicorn worker; `DATABASE_FILE` and `SECRET_KEY` come from its environment.
"""

import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Optional

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import BigInteger, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

engine = create_engine(f"sqlite:///{os.environ['DATABASE_FILE']}")
SessionLocal = sessionmaker(engine)
SECRET_KEY = os.environ["SECRET_KEY"]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String)
    episode: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String)
    reminder: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[str] = mapped_column(String)
    message: Mapped[str] = mapped_column(String)
    summary: Mapped[Optional[str]] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    fired_at: Mapped[str] = mapped_column(String)
    acknowledged_at: Mapped[Optional[str]] = mapped_column(String)


class AlertOut(BaseModel):
    id: int
    rule_id: Optional[int]
    symbol: str
    kind: str
    reminder: int
    episode: int
    price: Decimal
    message: str
    summary: Optional[str]
    state: str
    fired_at: datetime
    acknowledged_at: Optional[datetime]


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: Optional[str]


app = FastAPI()


def db():
    with SessionLocal() as session:
        yield session


def current_user(authorization: str = Header()) -> int:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401, "expected a bearer token")
    try:
        claims = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=["HS256"],
            audience="signal-sentinel-api",
            issuer="signal-sentinel",
        )
    except jwt.PyJWTError as e:
        raise HTTPException(401, str(e)) from e
    return int(claims["sub"])


@app.get("/api/alerts", response_model=AlertPage)
def list_alerts(
    limit: int = Query(50, ge=1, le=200),
    user: int = Depends(current_user),
    session: Session = Depends(db),
):
    rows = session.scalars(
        select(Alert)
        .where(Alert.user_id == user)
        .order_by(Alert.fired_at.desc(), Alert.id.desc())
        .limit(limit)
    ).all()
    items = [AlertOut.model_validate(row, from_attributes=True) for row in rows]
    last = rows[-1] if len(rows) == limit else None
    cursor = None
    if last:
        micros = (datetime.fromisoformat(last.fired_at) - EPOCH) // timedelta(microseconds=1)
        cursor = f"{micros}_{last.id}"
    return AlertPage(items=items, next_cursor=cursor)
