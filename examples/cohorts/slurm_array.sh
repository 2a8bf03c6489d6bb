#!/bin/bash
# A cohort on a Slurm cluster without Ray: one array element per slice of the shards.
# Every element writes its shards into the same dataset folder (on a shared filesystem);
# files are renamed into place and each shard's marker is written last, so elements never
# collide and a requeued or rerun element skips the shards already complete.
#
#   sbatch --array=0-15 examples/cohorts/slurm_array.sh examples/cohorts/age_and_depth.toml /scratch/$USER/cohort
#
#SBATCH --job-name=dermasim-cohort
#SBATCH --cpus-per-task=4
#SBATCH --time=01:00:00
#SBATCH --output=dermasim-cohort-%A_%a.log
set -euo pipefail
SPEC=${1:?cohort file}
OUT=${2:?dataset folder}
N=${SLURM_ARRAY_TASK_COUNT:?run as an array job}
I=${SLURM_ARRAY_TASK_ID:?run as an array job}
dermasim --threads "${SLURM_CPUS_PER_TASK:-1}" cohort "$SPEC" --out "$OUT" --shard "$I/$N"
# After the array: `dermasim cohort SPEC --out OUT --dry-run` lists any shard still pending;
# rerun the same command (or the array) to complete them.
