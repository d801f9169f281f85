# radrelay in a container: a static binary on an empty base, run as a
# non-root user. Build from a clone (the version comes from git):
#
#   docker build --build-arg VERSION=$(packaging/version.sh) -t radrelay .
#   docker run --rm radrelay version
#   docker run -d --name radrelay \
#     -v /var/log/freeradius/radacct:/var/log/freeradius/radacct:ro \
#     -v radrelay-state:/var/lib/radrelay -v radrelay-log:/var/log/radrelay \
#     -v /etc/radrelay:/etc/radrelay:ro -p 127.0.0.1:9813:9813 \
#     radrelay run -c /etc/radrelay/radrelay.toml --metrics :9813
#
# Consume mode renames and deletes the detail files: mount radacct
# read-write and run with --user set to the owner of the files.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.0.0-unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/usr/bin/radrelay ./cmd/radrelay \
 && /out/usr/bin/radrelay version \
 && install -D -m 0644 packaging/radrelay.toml /out/etc/radrelay/radrelay.toml \
 && install -d -m 0750 /state/var/lib/radrelay /state/var/log/radrelay \
 && echo 'radrelay:x:65532:65532:radrelay:/var/lib/radrelay:/sbin/nologin' >/out/etc/passwd \
 && echo 'radrelay:x:65532:' >/out/etc/group

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/ /
# Only the state and log directories belong to the unprivileged user.
COPY --from=build --chown=65532:65532 /state/ /
USER 65532:65532
VOLUME ["/var/lib/radrelay", "/var/log/radrelay"]
EXPOSE 9813
ENTRYPOINT ["/usr/bin/radrelay"]
CMD ["run", "-c", "/etc/radrelay/radrelay.toml", "--metrics", ":9813"]
