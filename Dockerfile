# Signal Sentinel: one image for the web process (`invest serve`) and the worker
# (`invest monitor start`). Build: `docker build -t signal-sentinel .`
#
# Build stage: the release binary, exactly the versions in Cargo.lock.
FROM rust:1.95-slim-trixie AS build
WORKDIR /src
# SQLite is compiled from source by the build: a C compiler is all it needs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p signal-sentinel-cli \
 && cp target/release/invest /usr/local/bin/invest

# Runtime stage: the binary, CA certificates for the providers' HTTPS, curl for the health
# check, and an unprivileged user owning /data.
FROM debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin sentinel \
 && mkdir -p /data && chown sentinel:sentinel /data
COPY --from=build /usr/local/bin/invest /usr/local/bin/invest
USER sentinel
WORKDIR /data
ENV DATABASE_URL="sqlite:///data/signal_sentinel.db?mode=rwc" \
    SIGNAL_SENTINEL_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8000
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/api/health" || exit 1
ENTRYPOINT ["invest"]
CMD ["serve"]
