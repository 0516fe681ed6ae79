#!/usr/bin/env bash
# Trains ELBOVAE and MMDVAE on MNIST at latent sizes 2 and 20 with the CLI,
# evaluates every measure of each with `python -m mmdvae evaluate`, and puts
# them side by side with `python -m mmdvae compare` (RUNS_DIR/report.md).
#
# Conv network, EPOCHS (default 3) epochs at batch 100. The MMD-VAE has a
# Gaussian encoder and the Bernoulli likelihood summed over pixels, so that its
# log-likelihood can be estimated, with the InfoVAE paper's weight lambda = 1000
# for summed likelihoods. The ELBO-VAE uses the same likelihood.
#
# Usage: MMDVAE_DATA_DIR=... scripts/mnist_evaluation.sh RUNS_DIR
# (run it under `flock /tmp/mmdvae-heavy.lock` on a shared machine)
set -euo pipefail
runs=${1:?usage: $0 RUNS_DIR}
python=${PYTHON:-python}
epochs=${EPOCHS:-3}
names=()
for latent_dim in 2 20; do
  for model in elbo mmd; do
    out="$runs/${model}_z$latent_dim"
    names+=("$out")
    options=()
    if [ "$model" = mmd ]; then
      options=(--encoder-type gaussian --reconstruction bernoulli --lambda 1000)
    fi
    if [ ! -f "$out/model.keras" ]; then
      "$python" -m mmdvae train --model "$model" --latent-dim "$latent_dim" \
        --network conv --epochs "$epochs" --batch-size 100 "${options[@]}" --out "$out"
    fi
    "$python" -m mmdvae evaluate "$out" --dataset mnist --num-labelled 100 1000 \
      --noise-std 0.3 --mask-fraction 0.5 --log-likelihood-images 100 \
      --importance-samples 1000 --prior-samples 50000 --overwrite \
      --out "$out/evaluation.json"
  done
done
"$python" -m mmdvae compare "${names[@]}" --out "$runs/report.md" --overwrite
