# Build the custom CoreDNS and the admin command; `make run` starts the example
# (plain DNS, DoT, DoH and DoQ on 127.0.0.1).
# `make static` builds the shipped, statically linked bin/coredns and `make image`
# the container image around it (build/container/).
GO ?= go
PODMAN ?= podman
IMAGE ?= localhost/sqlitefilter/coredns:v1.15.0

# The static build: cgo for mattn/go-sqlite3, the pure-Go resolver and user
# lookup (netgo, osusergo) so that glibc's NSS, which cannot be linked
# statically, is never called, and no SQLite extension loading (it needs
# dlopen). test/static_test.go builds with exactly these flags and checks so.
STATIC_TAGS := netgo,osusergo,sqlite_omit_load_extension
STATIC_LDFLAGS := -s -w -extldflags -static

.PHONY: all coredns static image admin run test clean

all: coredns admin

coredns:
	$(GO) build -o bin/coredns ./build/coredns

static:
	CGO_ENABLED=1 $(GO) build -trimpath -tags $(STATIC_TAGS) -ldflags '$(STATIC_LDFLAGS)' -o bin/coredns ./build/coredns

# The image context holds only the binary and the image's Corefile.
image: static
	rm -rf bin/image && mkdir -p bin/image
	cp bin/coredns bin/image/coredns
	cp build/container/Corefile bin/image/Corefile
	$(PODMAN) build -f build/container/Containerfile -t $(IMAGE) bin/image

admin:
	$(GO) build -o bin/sqlitefilter ./cmd/sqlitefilter

example.db: example/example.sql | admin
	rm -f example.db example.db-wal example.db-shm
	bin/sqlitefilter init example.db --sql example/example.sql

# A self-signed certificate for 127.0.0.1 and localhost, for the example's
# DoT, DoH and DoQ blocks, made by the generator in Go's own source tree.
bin/cert.pem:
	mkdir -p bin
	cd bin && $(GO) run "$$($(GO) env GOROOT)/src/crypto/tls/generate_cert.go" --host 127.0.0.1,localhost --ecdsa-curve P256

run: all example.db bin/cert.pem
	bin/coredns -conf Corefile.example

test:
	bash .ci/run

clean:
	rm -rf bin example.db example.db-wal example.db-shm
