# syntax=docker/dockerfile:1
# Confide's container image: built in a Rust image, run as a non-root user in a
# slim Debian image with only the binary and CA certificates.
#
#   docker build -t confide .
#   docker run --rm -p 8080:8080 \
#     -e CONFIDE_DATABASE_URL=postgres://confide@db:5432/confide \
#     -e CONFIDE_JWT_SECRET=... confide serve --no-migrate
#
# The image listens on 0.0.0.0:8080 (CONFIDE_BIND). Migrations: run
# `confide migrate` once per release (e.g. an init job with this image), then
# start the instances with --no-migrate (see README, "Deployment").

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so that a change to Confide's own code reuses their layer.
COPY Cargo.toml Cargo.lock ./
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src entity/src migration/src benches \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs entity/src/lib.rs migration/src/lib.rs \
 && for b in queries statistics; do echo 'fn main() {}' > benches/$b.rs; done \
 && cargo build --release --locked --bin confide 2>/dev/null || true
COPY . .
# Touch the sources so cargo rebuilds them over the placeholder layer.
RUN find src entity/src migration/src -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --bin confide \
 && install -D target/release/confide /out/confide

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin confide \
 && install -d -o 10001 -g 10001 /var/lib/confide
COPY --from=build /out/confide /usr/local/bin/confide
USER 10001:10001
# The working directory is the only writable place (a SQLite file, if used).
WORKDIR /var/lib/confide
ENV CONFIDE_BIND=0.0.0.0:8080 \
    CONFIDE_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/confide"]
CMD ["serve", "--no-migrate"]
