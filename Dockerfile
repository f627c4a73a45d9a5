# Confide's container image: built in a Rust image, run as an unprivileged user
# in a slim Debian image with only the binary, CA certificates and curl (for
# the health check).
#
#   docker build -t confide .
#   docker run --rm confide migrate --database-url "$DATABASE_URL"   # once per release
#   docker run -d -p 8080:8080 -e CONFIDE_DATABASE_URL -e CONFIDE_JWT_SECRET confide
#
# The image listens on 0.0.0.0:8080 (CONFIDE_BIND); its default command is
# `serve --no-migrate` (see README, "Deployment").
#
# Targets: `runtime` (the default, last): built from source. `prebuilt`: the
# same runtime around a binary built outside Docker, the build context being a
# directory holding just `confide` (CI uses it with a base image made from the
# Debian archive: --build-arg RUNTIME_BASE=...).

ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${RUNTIME_BASE} AS runtime-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin confide \
 && install -d -o 10001 -g 10001 /var/lib/confide
USER 10001:10001
# The working directory is the only writable place (a SQLite file, if used).
WORKDIR /var/lib/confide
# MIMALLOC_ALLOW_THP=0: the process opts out of transparent huge pages even on
# a host whose THP mode is "always" (docs/operations.md, "Memory").
ENV CONFIDE_BIND=0.0.0.0:8080 \
    CONFIDE_LOG=info \
    MIMALLOC_ALLOW_THP=0
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/confide"]
CMD ["serve", "--no-migrate"]

FROM runtime-base AS prebuilt
COPY confide /usr/local/bin/confide

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so that a change to Confide's own code reuses their layer.
COPY Cargo.toml Cargo.lock ./
# Build settings for dependencies (SQLite's compile-time options).
COPY .cargo .cargo
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
COPY clients/rust/Cargo.toml clients/rust/Cargo.toml
RUN mkdir -p src entity/src migration/src clients/rust/src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs entity/src/lib.rs migration/src/lib.rs clients/rust/src/lib.rs \
 && for b in queries statistics; do echo 'fn main() {}' > benches/$b.rs; done \
 && (cargo build --release --locked --bin confide || true)
COPY . .
# Newer times than the placeholders', so cargo rebuilds Confide's own crates.
RUN find src entity/src migration/src clients -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin confide \
 && install -D target/release/confide /out/confide

FROM runtime-base AS runtime
COPY --from=build /out/confide /usr/local/bin/confide
