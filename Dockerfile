# fusion-connector image: the controller and its CLI, run as a non-root user.
#   docker build -t fusion-connector:0.1.0 .
# Stage 1 builds the project's wheel and installs it, with PostgreSQL support, into a virtual
# environment; stage 2 copies only that environment onto the same slim Python base. The mock
# servers (mocks/, the demo's) are a separate distribution and stay out of the image.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY connector ./connector
COPY adapters ./adapters
COPY migrations ./migrations
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/fusion-connector \
 && wheel="$(ls /wheels/fusion_connector-*.whl)" \
 && /opt/fusion-connector/bin/pip install "${wheel}[postgres]" \
 && /opt/fusion-connector/bin/fusion-connector --version

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/fusion-connector/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --gid 10001 fusion-connector \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin fusion-connector \
 && mkdir -p /etc/fusion-connector /var/lib/fusion-connector \
 && chown 10001:10001 /var/lib/fusion-connector
COPY --from=build /opt/fusion-connector /opt/fusion-connector
WORKDIR /var/lib/fusion-connector
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["fusion-connector"]
CMD ["run", "--config", "/etc/fusion-connector/config.yaml"]
