# Sourced by setup.sh and kotlin-test.sh: where the Kotlin/JVM test
# toolchain lives. Not executable on its own.
#
# kotlinc comes from the npm package `kotlin-compiler`, pinned, installed
# without root into a per-user cache (outside target/, so `cargo clean`
# keeps it). JNA and JUnit 5 are Debian's packages (jars in /usr/share/java).

SOTTO_KOTLIN_VERSION="2.4.20"
SOTTO_KOTLIN_PREFIX="${SOTTO_TOOLS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sotto}/kotlin-compiler-$SOTTO_KOTLIN_VERSION"
SOTTO_JAVA_SHARE="/usr/share/java"

# The kotlinc to use: $KOTLINC if set, else the pinned one if installed,
# else one on PATH. Prints nothing when there is none.
sotto_kotlinc() {
  local pinned="$SOTTO_KOTLIN_PREFIX/node_modules/kotlin-compiler/bin/kotlinc"
  if [ -n "${KOTLINC:-}" ]; then
    echo "$KOTLINC"
  elif [ -x "$pinned" ]; then
    echo "$pinned"
  else
    command -v kotlinc || true
  fi
}
