#!/usr/bin/env bash
# Measures eval throughput (docs/spark.md): a local run (bin/moice eval, MOICE_THREADS threads) against Spark standalone
# runs with 1 and 2 single-core executors (spark.cores.max), on a master and two one-core workers bound to 127.0.0.1.
# Usage: scripts/spark-scaling.sh [MODEL] [SAMPLES]   (default smollm2-135m-instruct, 6). Build first: bin/moice --help.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/bin/jdk.sh"
MODEL="${1:-smollm2-135m-instruct}" SAMPLES="${2:-6}"
WORK="$(mktemp -d)"
HOME_DIR="$ROOT/cli/target/spark-home"
rm -rf "$HOME_DIR" && mkdir -p "$HOME_DIR/jars"
for j in $(tr ':' '\n' < "$ROOT/spark/target/spark-classpath.txt" | grep '\.jar$' | grep -v "^$ROOT/"); do ln -s "$j" "$HOME_DIR/jars/"; done
export SPARK_HOME="$HOME_DIR" SPARK_SCALA_VERSION=2.13 SPARK_LOCAL_IP=127.0.0.1
PIDS=()
trap 'for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done' EXIT
"$JAVA" -Xmx512m -cp "$HOME_DIR/jars/*" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port 17077 \
  --webui-port 18080 > "$WORK/master.log" 2>&1 & PIDS+=($!)
sleep 5
for w in 1 2; do
  "$JAVA" -Xmx512m -cp "$HOME_DIR/jars/*" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 \
    --memory 2g --webui-port $((18080 + w)) --work-dir "$WORK/work$w" spark://127.0.0.1:17077 > "$WORK/worker$w.log" 2>&1 & PIDS+=($!)
done
sleep 8
ARGS=(eval --model "$MODEL" --task passkey --lengths 1024 --depths 0,0.5,1 --samples "$SAMPLES" --methods vanilla
      --score loglik --seed 1)
run() { local s=$SECONDS; "$@" > "$WORK/run.log" 2>&1 || { cat "$WORK/run.log"; exit 1; }; echo $((SECONDS - s)); }
t_local1=$(MOICE_THREADS=1 run "$ROOT/bin/moice" "${ARGS[@]}" --out "$WORK/local1")
t_local2=$(run "$ROOT/bin/moice" "${ARGS[@]}" --out "$WORK/local2")
submit() {
  "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$HOME_DIR/jars/*" \
    org.apache.spark.deploy.SparkSubmit --master spark://127.0.0.1:17077 --class moice.cli.Main \
    --conf spark.cores.max="$1" --conf spark.executor.memory=1500m --conf spark.driver.host=127.0.0.1 \
    "$ROOT/cli/target/moice-spark.jar" "${ARGS[@]}" --out "$WORK/spark$1" --spark submit
}
t_spark1=$(run submit 1)
t_spark2=$(run submit 2)
n=$(( $(wc -l < "$WORK/local2/results.csv") - 1 ))
cmp <(cut -d, -f1-10,14- "$WORK/local2/results.csv") <(cut -d, -f1-10,14- "$WORK/spark2/results.csv") \
  && echo "rows: the Spark run's equal the local run's (time and memory columns aside)"
echo "samples $n; wall seconds: local 1 thread $t_local1, local 2 threads $t_local2, Spark 1 executor $t_spark1, 2 executors $t_spark2"
