#!/usr/bin/env bash
# Make sure Debian's headless-capable Chromium and its WebDriver are present for tests/e2e/test_browser.py.
# Installs the `chromium` and `chromium-driver` packages with apt-get when either binary is missing.
# Always exits 0: when it cannot install (not root, no apt-get, install failed) it says why, and the
# browser test skips itself.
set -u

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

present() { [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; }

if present; then
	exit 0
fi
if [ "${EUID:-$(id -u)}" != 0 ]; then
	echo "ensure_browser: $CHROMIUM or $CHROMEDRIVER missing, and not root: cannot apt-get install;" \
		"the browser test will skip" >&2
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure_browser: $CHROMIUM or $CHROMEDRIVER missing and no apt-get here; the browser test will skip" >&2
	exit 0
fi

echo "ensure_browser: installing chromium and chromium-driver with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq >/dev/null; then
	echo "ensure_browser: apt-get update failed; the browser test will skip" >&2
	exit 0
fi
if ! apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; then
	echo "ensure_browser: apt-get install chromium chromium-driver failed; the browser test will skip" >&2
	exit 0
fi
if present; then
	echo "ensure_browser: $("$CHROMIUM" --version 2>/dev/null) ready" >&2
else
	echo "ensure_browser: installed, but $CHROMIUM or $CHROMEDRIVER is still missing; the browser test will skip" >&2
fi
exit 0
