#!/usr/bin/env bash
# Builds the tests and runs the kernel benchmarks (KernelBench, and MemoryBench as the bandwidth yardstick).
# Arguments go to the benchmark runner, e.g.  bench/kernels.sh 'KernelBench|MemoryBench' -p shape=8192x2048 -p batch=1
# Read the "gigabytes" rows: GB of weights streamed per second.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAVA_HOME="$("$root/bin/find-jdk")"
export JAVA_HOME
cd "$root"
./mvnw -q -B -ntp test-compile
cp_file=target/bench-classpath.txt
./mvnw -q -B -ntp dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
exec "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
  -cp "target/test-classes:target/classes:$(cat "$cp_file")" org.openjdk.jmh.Main "$@"
