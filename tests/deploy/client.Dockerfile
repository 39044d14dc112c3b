# The test client of tests/deploy/compose.sh: Python with websocket-client and the
# project's protocol client (tests/lib), run on the compose network. Build context: tests/.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-websocket \
    && rm -rf /var/lib/apt/lists/*
COPY lib/client.py lib/cluster.py /opt/cim-test/lib/
COPY deploy/e2e.py /opt/cim-test/
ENV PYTHONPATH=/opt/cim-test/lib PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65534:65534
ENTRYPOINT ["python3", "/opt/cim-test/e2e.py"]
