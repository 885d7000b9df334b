#!/bin/sh
# Run products/java/OcspClient.java, compiling it first when its .class is
# missing or older than the source (products/java.toml).
#
# The class goes to a cache directory, never into the checkout:
# $OCSP_LAB_CACHE/java, else ${XDG_CACHE_HOME:-~/.cache}/ocsp-lab/java.
# It is compiled into a fresh temporary directory and moved into place, so
# two runs starting at once never load a half-written class.
#
# Usage: sh products/java/ocsp-client.sh HOST PORT TRUST.pem [SECONDS]
# Needs javac and java on PATH (Debian: default-jdk-headless).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
source="$here/OcspClient.java"
if [ -n "${OCSP_LAB_CACHE:-}" ]; then
    cache="$OCSP_LAB_CACHE/java"
else
    cache="${XDG_CACHE_HOME:-$HOME/.cache}/ocsp-lab/java"
fi
class="$cache/OcspClient.class"
if [ ! -f "$class" ] || [ "$source" -nt "$class" ]; then
    mkdir -p "$cache"
    fresh=$(mktemp -d "$cache/.build.XXXXXX")
    trap 'rm -rf "$fresh"' EXIT
    javac -d "$fresh" "$source"
    mv -f "$fresh/OcspClient.class" "$class"
    rm -rf "$fresh"
    trap - EXIT
fi
# The JDK's OCSP client waits 15 s by default (com.sun.security.ocsp.timeout):
# 5 s, as the lab's model waits ([client] timeout), within the profile's 10 s.
exec java -Dcom.sun.security.ocsp.timeout=5 -cp "$cache" OcspClient "$@"
