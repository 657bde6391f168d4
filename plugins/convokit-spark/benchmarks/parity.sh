#!/usr/bin/env bash
# convokit check --format json, local engine vs --engine spark, on one store:
#   parity.sh STORE.db POLICY.toml OUTDIR [DATASET]
# exports the store (unless DATASET is given), runs both, compares the bytes
# (the "store" line names the source: the store URL vs the dataset directory).
set -euo pipefail
db=$1 policy=$2 out=$3 ds=${4:-$3/dataset}
mkdir -p "$out"
convokit=${CONVOKIT:-convokit}
if [ ! -e "$ds" ]; then "$convokit" --store "sqlite:///$db" export --format parquet -o "$ds"; fi
t0=$(date +%s.%N)
"$convokit" --store "sqlite:///$db" check --policy "$policy" --as-of latest --format json \
  --fail-on never -o "$out/local.json"
t1=$(date +%s.%N)
"$convokit" check --engine spark --input "$ds" --policy "$policy" --as-of latest --format json \
  --fail-on never -o "$out/spark.json"
t2=$(date +%s.%N)
sed "3s|.*|  \"store\": \"$ds\",|" "$out/local.json" > "$out/local-store-as-dataset.json"
if cmp -s "$out/local-store-as-dataset.json" "$out/spark.json"; then same=identical; else same=DIFFERENT; fi
echo "$(basename "$db"): local $(echo "$t1 - $t0" | bc) s, spark (CLI, new session) $(echo "$t2 - $t1" | bc) s," \
  "$(grep -c '"commitment":' "$out/local.json") findings, JSON $same" \
  "(sha256 $(sha256sum < "$out/spark.json" | cut -c1-16))"
