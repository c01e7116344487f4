# syntax=docker/dockerfile:1
# dedupd container image: a Debian bookworm builder compiles the daemon with the
# project's own setup script and CMake; the runtime image holds the binary, the
# shared libraries it links (found with ldd, mapped to their Debian packages)
# and the default configuration, and runs as a non-root user.
#
#   docker build -t dedupd:0.1.0 .
#   docker run --rm -p 9464:9464 dedupd:0.1.0 --set kafka.bootstrap_servers=host:9092
#
# The Helm chart (helm/dedupd) mounts its own /etc/dedupd/dedupd.yaml and a
# volume at the state directory. Not built in this repository's CI (no
# container engine there); see docs/operations.md.

ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------- builder
FROM debian:${DEBIAN_RELEASE} AS build
# The setup script installs every -dev package the build needs (it also
# brings test tools; they stay in this stage).
COPY scripts/setup /src/scripts/setup
RUN /src/scripts/setup --quiet && rm -rf /var/lib/apt/lists/*

# Only what the build reads, so unrelated changes keep the layer cache.
COPY CMakeLists.txt /src/
COPY cmake/ /src/cmake/
COPY proto/ /src/proto/
COPY daemon/ /src/daemon/
COPY tests/ /src/tests/
COPY config/ /src/config/
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DDEDUPD_BUILD_BENCH=OFF -DDEDUPD_WERROR=OFF \
 && ninja -C /build dedupd \
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
      org.opencontainers.image.description="Streaming deduplication and change-monitor daemon for scraped pages"
# The default state.dir (./dedupd-state) resolves under the working directory.
WORKDIR /var/lib/dedupd
# Numeric, so Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/dedupd", "run", "--config", "/etc/dedupd/dedupd.yaml"]
