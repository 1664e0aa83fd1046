"""A Python program against a running Signal Sentinel, through a client generated from
docs/openapi.json by openapi-python-client:

    openapi-python-client generate --path ../../../docs/openapi.json --output-path generated --overwrite
    SIGNAL_SENTINEL_URL=http://127.0.0.1:8000 python3 client.py

Registers, logs in, creates a rule, lists alerts, creates an API key, uses it, revokes it.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "generated"))

from signal_sentinel_client import AuthenticatedClient, Client  # noqa: E402
from signal_sentinel_client.api.alerts import list_alerts  # noqa: E402
from signal_sentinel_client.api.auth import (  # noqa: E402
    create_api_key,
    login,
    me,
    register,
    revoke_api_key,
)
from signal_sentinel_client.api.rules import create_rule  # noqa: E402
from signal_sentinel_client.models import (  # noqa: E402
    AlertPage,
    ApiKeyIn,
    CreatedApiKeyOut,
    LoginIn,
    RegisterIn,
    RuleIn,
    RuleOut,
    TokenOut,
    UserOut,
)


def check(what, value, expected_type):
    if not isinstance(value, expected_type):
        sys.exit(f"{what}: expected {expected_type.__name__}, got {value!r}")
    return value


base = os.environ.get("SIGNAL_SENTINEL_URL", "http://127.0.0.1:8000")
email = f"py-{int(time.time() * 1000)}@example.com"
password = "python client password"

anonymous = Client(base_url=base, raise_on_unexpected_status=True)
check("register", register.sync(client=anonymous, body=RegisterIn(email=email, password=password)), UserOut)
token = check("login", login.sync(client=anonymous, body=LoginIn(email=email, password=password)), TokenOut)

user = AuthenticatedClient(base_url=base, token=token.access_token, raise_on_unexpected_status=True)
rule = check("create rule", create_rule.sync(client=user, body=RuleIn(text="AAPL crosses above 200")), RuleOut)
print(f"rule {rule.id}: {rule.text}")
alerts = check("list alerts", list_alerts.sync(client=user, limit=10), AlertPage)
print(f"{len(alerts.items)} alerts")

key = check("create API key", create_api_key.sync(client=user, body=ApiKeyIn(name="python")), CreatedApiKeyOut)
by_key = AuthenticatedClient(base_url=base, token=key.key, prefix="", auth_header_name="X-API-Key")
check("the API key works", me.sync(client=by_key), UserOut)
revoked = revoke_api_key.sync_detailed(key.id, client=user)
if revoked.status_code != 204:
    sys.exit(f"revoke API key: HTTP {revoked.status_code}")
refused = me.sync_detailed(client=by_key)
if refused.status_code != 401:
    sys.exit(f"a revoked key must be refused, got HTTP {refused.status_code}")

print("python client: register, login, rule, alerts, API key created and revoked: ok")
