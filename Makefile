# klaxon: `make run` and `make test` are the two front doors (see README.md).
# Both install any missing Debian packages first (scripts/deps.sh).
#
# BUILD selects the output folder so that several builds (plain, sanitizers)
# can live side by side: `make BUILD=build-san SAN=1`.

BUILD   ?= build
VERSION  = 0.1.0
SAN     ?=
CC      ?= cc
PKGS     = milter libclamav libcrypto libarchive lua5.4 sqlite3
CSTD     = -std=c17 -D_GNU_SOURCE -DKLAXON_VERSION=\"$(VERSION)\"
WARN     = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
ifneq ($(SAN),)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  = $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit-bins fuzz clean format

all: $(BUILD)/klaxon

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libklaxon.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BUILD)/klaxon: $(BUILD)/obj/main.o $(BUILD)/libklaxon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libklaxon.a $(wildcard tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Isrc $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $< \
		$(BUILD)/libklaxon.a $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

# The embedded default: local socket, shipped test signatures unless
# /var/lib/clamav has a database, quarantine under ./var.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 OPT="-O1 -g" all unit-bins
	@tests/run-all.sh

unit-bins: $(UNIT_BIN)

fuzz:
	@tests/fuzz/run.sh

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c

clean:
	rm -rf build build-san build-fuzz
