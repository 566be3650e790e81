# Sourced by bin/moice and bin/test: sets JAVA (a java binary of version >= 25) and JAVA_HOME, or exits 2.
java_major() {
  local v
  v="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)"
  echo "${v:-0}"
}

find_java() {
  local c
  for c in ${MOICE_JAVA:+"$MOICE_JAVA"} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} \
           /usr/lib/jvm/temurin-25-jdk-amd64/bin/java /usr/lib/jvm/*/bin/java "$(command -v java 2>/dev/null || true)"; do
    [ -x "$c" ] || continue
    if [ "$(java_major "$c")" -ge 25 ] 2>/dev/null; then echo "$c"; return 0; fi
  done
  return 1
}

JAVA="$(find_java)" || {
  echo "moice: no JDK 25 or newer found. Install Temurin 25 (e.g. apt-get install temurin-25-jdk) or set MOICE_JAVA=/path/to/java" >&2
  exit 2
}
JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$JAVA")")")"
export JAVA_HOME
# Maven 3.8 on JDK 25 warns about sun.misc.Unsafe; harmless.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
