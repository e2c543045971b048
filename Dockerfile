# Builds the single `starbase` binary and runs it on a slim base image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin starbase

FROM debian:bookworm-slim
RUN useradd --system --home /data starbase && mkdir -p /data && chown starbase /data
COPY --from=build /src/target/release/starbase /usr/local/bin/starbase
USER starbase
VOLUME /data
EXPOSE 8787 5433
ENTRYPOINT ["starbase"]
CMD ["serve", "--data-dir", "/data", "--http-listen", "0.0.0.0:8787", "--pg-listen", "0.0.0.0:5433"]
