# syntax=docker/dockerfile:1
# dedupd container image: a Debian bookworm builder compiles the daemon with
# the project's build packages (scripts/setup --build-only) and CMake; the
# runtime image holds the binary, the shared libraries it links (found with
# ldd, mapped to their Debian packages) and the default configuration, and
# runs as a non-root user.
#
#   scripts/image                  # build + check it here (buildah, no engine, no registry)
#   docker build -t dedupd:0.1.0 .
#   docker run --rm -p 9464:9464 dedupd:0.1.0 --set kafka.bootstrap_servers=host:9092
#
# The Helm chart (helm/dedupd) mounts its own /etc/dedupd/dedupd.yaml and a
# volume at the state directory. CI builds and checks it with scripts/image
# (buildah, chroot isolation, a debootstrapped base); see docs/operations.md.
# Portable on any x86-64: no -march flags, a plain Release build.

ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------- builder
FROM debian:${DEBIAN_RELEASE} AS build
# Only the compiler, CMake, Ninja and the -dev packages; the test, lint and
# broker tools of a development machine are not needed to build the daemon.
COPY scripts/setup /src/scripts/setup
RUN /src/scripts/setup --build-only --quiet && rm -rf /var/lib/apt/lists/*

# Only what the build reads, so unrelated changes keep the layer cache.
COPY CMakeLists.txt /src/
COPY cmake/ /src/cmake/
COPY proto/ /src/proto/
COPY daemon/ /src/daemon/
# Parallel jobs; empty = every CPU the build sees.
ARG JOBS=
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DDEDUPD_BUILD_TESTS=OFF -DDEDUPD_BUILD_BENCH=OFF -DDEDUPD_WERROR=OFF > /build.cmake.log \
 && ninja -C /build -j "${JOBS:-$(nproc)}" dedupd \
 && cmake --install /build --prefix /usr/local --strip \
 && /usr/local/bin/dedupd --version

# The Debian packages that own the shared libraries the binary needs: the
# runtime stage installs exactly these (no hand-kept list to drift).
# /lib is a symlink to /usr/lib on bookworm, so try both spellings.
RUN set -e; : > /runtime-packages.txt; \
    for lib in $(ldd /usr/local/bin/dedupd | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do \
      pkg="$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null || true)"; \
      [ -n "$pkg" ] || { echo "no Debian package owns $lib" >&2; exit 1; }; \
      echo "${pkg%%:*}" >> /runtime-packages.txt; \
    done; \
    sort -u -o /runtime-packages.txt /runtime-packages.txt; cat /runtime-packages.txt

# ---------------------------------------------------------------- runtime
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates $(sed 's/:.*//' /tmp/runtime-packages.txt | tr '\n' ' ') \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid 10001 dedupd \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/dedupd --no-create-home \
      --shell /usr/sbin/nologin dedupd \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/dedupd \
 && install -d -m 0755 /etc/dedupd

COPY --from=build /usr/local/bin/dedupd /usr/local/bin/dedupd
COPY config/dedupd.yaml /etc/dedupd/dedupd.yaml
# Every shared library resolves, or the image is broken.
RUN ! ldd /usr/local/bin/dedupd | grep -q 'not found' && /usr/local/bin/dedupd --version

LABEL org.opencontainers.image.title="dedupd" \
      org.opencontainers.image.description="Streaming deduplication and change-monitor daemon for scraped pages" \
      org.opencontainers.image.version="0.1.0"
# The default state.dir (./dedupd-state) resolves under the working directory.
WORKDIR /var/lib/dedupd
# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 9464
# For docker/podman (Kubernetes uses the chart's probes instead): /healthz on
# the metrics port, DEDUPD_METRICS_PORT if the port is set through the
# environment. bash's /dev/tcp, because the image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${DEDUPD_METRICS_PORT:-9464} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/dedupd", "run", "--config", "/etc/dedupd/dedupd.yaml"]
