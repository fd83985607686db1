#!/bin/bash
# AWD-LSTM on Penn Treebank on a lent GPU (../shared/docs/GPU.md): the `awd` (2x650) and
# `awd-small` (2x200) recipes, each as in the recipe (batch 80) and with AWD-LSTM's PTB
# batch of 20, all four side by side on the one GPU. Each run trains until SECONDS are up (SIGINT: the
# best model and the training state are kept, as with Ctrl-C), then its best model is
# scored on the test set. Everything small is packed into OUT/summary.tar.gz; the training
# state of the better awd-small run is split into 15 MB pieces (OUT/awd-small.state.part-*)
# to go on with `--resume` on the CPU after `cat` (the device tool brings back 8 files of
# at most 16 MB).
#
#   usage: bash bench/gpu_awd.sh PTB_DIR OUT SECONDS [DEVICE]
set -u
DATA=$1 OUT=$2 SECS=$3 DEV=${4:-cuda}
PY=${PYTHON:-python3}
W=$OUT/work
mkdir -p "$W"
export PYTHONUNBUFFERED=1

train() {  # NAME RECIPE [OPTION...]
    local name=$1 recipe=$2; shift 2
    timeout -s INT "$SECS" $PY -m rnn_cli train-lm "$DATA/ptb.train.txt.gz" --valid "$DATA/ptb.valid.txt.gz" \
        --recipe "$recipe" --device "$DEV" --threads 1 --checkpoint-every 300 -o "$W/$name.pt" "$@" \
        >"$W/$name.log" 2>&1
    echo "$name: training exit $? after $SECONDS s" | tee -a "$W/summary.txt"
    $PY -m rnn_cli evaluate "$W/$name.pt" "$DATA/ptb.test.txt.gz" --device "$DEV" --format json \
        >"$W/$name.test.json" 2>>"$W/$name.log"
    echo "$name: test $(cat "$W/$name.test.json" | tr -d '\n' | cut -c1-300)" | tee -a "$W/summary.txt"
}

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$W/summary.txt"
train awd awd &
train awd-b20 awd --batch-size 20 &
train awd-small awd-small &
train awd-small-b20 awd-small --batch-size 20 &
wait

for name in awd awd-b20 awd-small awd-small-b20; do  # best dev perplexity and its epoch
    $PY - "$W/$name.metrics.jsonl" "$name" <<'PYEOF' | tee -a "$W/summary.txt"
import json, sys
try:
    rows = [json.loads(line) for line in open(sys.argv[1]) if '"dev_ppl"' in line]
except OSError:
    rows = []
best = min(rows, key=lambda r: r["dev_ppl"]) if rows else {}
print(sys.argv[2], "epochs", len(rows), "best dev", round(best.get("dev_ppl", float("nan")), 2),
      "at epoch", best.get("epoch"), "s/epoch", round(rows[-1].get("epoch_seconds", 0), 1) if rows else "-")
PYEOF
done
best=$($PY - "$W" <<'PYEOF'
import json, sys
def dev(name):
    try:
        return min(json.loads(l)["dev_ppl"] for l in open(f"{sys.argv[1]}/{name}.metrics.jsonl") if '"dev_ppl"' in l)
    except (OSError, ValueError):
        return float("inf")
print(min(["awd-small", "awd-small-b20"], key=dev))
PYEOF
)
echo "state brought back: $best" | tee -a "$W/summary.txt"
split -b 15M -d "$W/$best.state.pt" "$OUT/$best.state.part-" 2>/dev/null
cp "$W/$best.pt" "$OUT/$best.pt" 2>/dev/null
tar -C "$W" -czf "$OUT/summary.tar.gz" --exclude='*.pt' .
