# dexpy: `docker build -t dexpy:0.1.0 .` — runs `dexpy serve /etc/dexpy/config.yaml` as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md* ./
COPY dexpy ./dexpy
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 dexpy \
    && useradd --system --uid 10001 --gid dexpy --home-dir /nonexistent --shell /usr/sbin/nologin dexpy
USER 10001:10001
# https, http, gRPC, telemetry (health and metrics)
EXPOSE 5554 5556 5557 5558
ENTRYPOINT ["dexpy"]
CMD ["serve", "/etc/dexpy/config.yaml"]
