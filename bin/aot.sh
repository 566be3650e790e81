# Sourced by bin/moice: runs java with a JDK AOT cache (JEP 483/514) that bin/moice keeps under AOT_DIR.
#
#   AOT_DIR=DIR AOT_RECORD=0|1 AOT_KEY_FILES=(files...) aot_run JAVA JVM_ARGS... -- MAIN ARGS...
#
# JVM_ARGS include the class path (-cp). The cache file is named by a checksum of the contents of AOT_KEY_FILES (the
# jars), the JDK (its release file, the size and time of its module image, the java path), JVM_ARGS and
# JDK_JAVA_OPTIONS/JAVA_TOOL_OPTIONS, so a rebuilt jar or another JDK or flag set never meets a cache made for
# something else. (The JVM's own check is weak: a jar rebuilt to the same size ran the archived, stale classes in a
# test with JDK 25.0.3.) When that file exists, java runs with it (exec). When it does not and AOT_RECORD=1, this run
# records which classes it loads (-XX:AOTMode=record) and, once it has ended, the cache is created from the record
# into a temporary file and renamed into place (atomic; concurrent first runs each write their own), and caches of
# other keys are removed. The create step's output goes to DIR/create.log; if it fails, nothing is left behind and the
# next run records again. A cache the JVM cannot map (corrupt, truncated) is reported in one line on stderr, removed,
# and the run goes on without it. Turning it off: MOICE_AOT=0.
#
# What it holds: with jdk.incubator.vector in the boot layer (--add-modules), JDK 25 archives no module graph
# ("archivedBootLayer not available" in create.log), so the cache has the loaded classes (parsed, verified) but no
# AOT linking and no method profiles (JEP 515); it saves class loading, not the JIT's warm-up of the kernels.

aot_run() {
  local java="$1"; shift
  # JVM warnings (the cache's among them) go to stderr, first so that later -Xlog options still apply: stdout
  # carries only what the command prints
  local jvm=(-Xlog:disable -Xlog:all=warning:stderr -XX:+DisplayVMOutputToStderr) a
  while [ $# -gt 0 ]; do a="$1"; shift; [ "$a" = -- ] && break; jvm+=("$a"); done
  local home key
  home="$(dirname "$(dirname "$(readlink -f "$java")")")"
  key="$( { cat "${AOT_KEY_FILES[@]}" 2>/dev/null; cat "$home/release" 2>/dev/null
            stat -L -c '%s %Y' "$home/lib/modules" 2>/dev/null
            printf '%s\n' "$java" "${jvm[@]}" "${JDK_JAVA_OPTIONS:-}" "${JAVA_TOOL_OPTIONS:-}"
          } | cksum | cut -d' ' -f1)"
  local cache="$AOT_DIR/moice-$key.aot"
  if [ -s "$cache" ]; then
    exec "$java" "${jvm[@]}" -XX:AOTCache="$cache" "$@" 2> >(aot_filter_stderr "$cache" >&2)
  fi
  if [ "${AOT_RECORD:-0}" != 1 ] || ! mkdir -p "$AOT_DIR" 2>/dev/null || [ ! -w "$AOT_DIR" ]; then
    exec "$java" "${jvm[@]}" "$@" 2> >(aot_filter_stderr "" >&2)
  fi
  local tmp="$AOT_DIR/tmp-$$-$key"
  trap "rm -f $(printf '%q ' "$tmp.aotconf" "$tmp.aot")" EXIT
  local rc=0
  "$java" "${jvm[@]}" -XX:AOTMode=record -XX:AOTConfiguration="$tmp.aotconf" "$@" \
    2> >(aot_filter_stderr "" >&2) || rc=$?
  if [ -s "$tmp.aotconf" ] && "$java" "${jvm[@]}" -XX:AOTMode=create -XX:AOTConfiguration="$tmp.aotconf" \
       -XX:AOTCache="$tmp.aot" > "$AOT_DIR/create.log" 2>&1 && [ -s "$tmp.aot" ]; then
    mv -f "$tmp.aot" "$cache"
    local old
    for old in "$AOT_DIR"/moice-*.aot; do [ "$old" = "$cache" ] || rm -f "$old"; done
  fi
  rm -f "$tmp.aotconf" "$tmp.aot"
  return "$rc"
}

# stderr of the JVM: drops the incubator-module notice and the recording's notice; the JVM's messages about an
# unusable cache become one line, and that cache is removed (the next recording run makes a new one).
aot_filter_stderr() {
  local cache="$1" told=0 line
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      *'WARNING: Using incubator modules'*|' AOTConfiguration recorded: '*) ;;
      '['*'][warning]['aot*|'['*'][error  ]['aot*|'['*'][error]['aot*)
        if [ "$told" = 0 ] && [ -n "$cache" ]; then
          echo "moice: the start-up cache $cache is unusable (${line#*] }); running without it and removing it"
          rm -f "$cache"
        fi
        told=1 ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
}
