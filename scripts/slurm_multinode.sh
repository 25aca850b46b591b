#!/bin/bash
# Multi-node training on SLURM: one task per node, each running one `accelerate launch` that starts
# one process per GPU of its node. Submit with: sbatch scripts/slurm_multinode.sh --config configs/run.yaml
# Options after the script name go to scripts/train.py. To continue after a failed node, resubmit
# with --resume_run RUN_DIR (see docs/distributed.md).
#SBATCH --job-name=mtl-hf
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --time=04:00:00
#SBATCH --output=logs/%x-%j.out

set -euo pipefail

GPUS_PER_NODE=${SLURM_GPUS_ON_NODE:-4}
MAIN_NODE=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
MAIN_PORT=${MAIN_PORT:-29500}
ACCELERATE=${ACCELERATE:-accelerate}

# Each node reads multi_node.yaml and overrides the fields that differ per job and per node.
# SLURM_NODEID is evaluated inside srun, on each node, hence the single quotes.
srun --kill-on-bad-exit=1 bash -c '
  "$0" launch --config_file accelerate_configs/multi_node.yaml \
    --num_machines "$SLURM_NNODES" \
    --num_processes $(( SLURM_NNODES * '"$GPUS_PER_NODE"' )) \
    --machine_rank "$SLURM_NODEID" \
    --main_process_ip '"$MAIN_NODE"' \
    --main_process_port '"$MAIN_PORT"' \
    scripts/train.py "$@"
' "$ACCELERATE" "$@"
