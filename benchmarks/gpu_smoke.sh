#!/usr/bin/env bash
# Each task's short training on CUDA with bf16, on 1 GPU and (when present) 2 GPUs, through the real launcher;
# prints what it measured (train samples/s, evaluation examples/s, the task metric, the processes used).
#   bash benchmarks/gpu_smoke.sh            (needs a CUDA GPU; prepares the offline shelf once)
# The project never needs a GPU for its tests: this is for machines that have one.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
STEPS=${STEPS:-30}
OUT=${OUT:-$(mktemp -d)}
gpus=$($PY -c "import torch; print(torch.cuda.device_count())")
[ "$gpus" -ge 1 ] || { echo "gpu_smoke: no CUDA GPU here"; exit 1; }
$PY -m apps.cli models prepare --all >/dev/null
common=(--max_steps "$STEPS" --eval_strategy no --bf16 true --max_train_minutes 10 --db "$OUT/leaderboard.db")
declare -A extra=(
  [question-answering]=""
  [image-classification]="--mode finetune --model efficientnet-lite0"
  [translation]="--max_eval_samples 64"
  [summarization]="--max_eval_samples 64"
  [automatic-speech-recognition]=""
)
for n in 1 2; do
  [ "$gpus" -ge "$n" ] || continue
  for task in "${!extra[@]}"; do
    run="$OUT/$task-$n"
    # shellcheck disable=SC2086
    $PY -m apps.cli train "$task" --num_processes "$n" --output_dir "$run" "${common[@]}" ${extra[$task]} \
      > "$run.log" 2>&1 || { echo "$task on $n GPU(s): FAILED, see $run.log"; continue; }
    $PY - "$run" "$task" "$n" <<'PY'
import json, sys
from pathlib import Path
run, task, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
log = [json.loads(l) for l in (run / "train_log.jsonl").read_text().splitlines()]
test = json.loads((run / "metrics.json").read_text())["test"]
shown = {k: round(v, 3) for k, v in test["metrics"].items() if not isinstance(v, str)}
print(json.dumps({"task": task, "gpus": int(n), "train_samples_per_second": log[-1].get("train_samples_per_second"),
                  "eval_examples_per_second": round(test["examples_per_second"], 1), "metrics": shown}))
PY
  done
done
