#!/usr/bin/env bash
# Trains ELBOVAE and MMDVAE on MNIST at latent sizes 2 and 20 with the CLI,
# evaluates every measure of each with `python -m mmdvae evaluate`, and puts
# them side by side with `python -m mmdvae compare` (RUNS_DIR/report.md).
#
# Conv network, EPOCHS (default 3) epochs at batch 100 on the first TRAIN_SIZE
# training images (default all). The MMD-VAE has a Gaussian encoder and the
# Bernoulli likelihood summed over pixels, so that its log-likelihood can be
# estimated, with the InfoVAE paper's weight lambda = 1000 for summed
# likelihoods. The ELBO-VAE uses the same likelihood. Log-likelihoods are
# estimated on the first LL_IMAGES (default 100) test images with K = 1000
# encoder samples and K = 50,000 prior samples.
#
# Usage: MMDVAE_DATA_DIR=... scripts/mnist_evaluation.sh RUNS_DIR
# (run it under `flock /tmp/mmdvae-heavy.lock` on a shared machine)
set -euo pipefail
runs=${1:?usage: $0 RUNS_DIR}
python=${PYTHON:-python}
epochs=${EPOCHS:-3}
train_size=()
if [ -n "${TRAIN_SIZE:-}" ]; then train_size=(--train-size "$TRAIN_SIZE"); fi
classifier_size=()
if [ -n "${CLASSIFIER_TRAIN_SIZE:-}" ]; then
  classifier_size=(--classifier-train-size "$CLASSIFIER_TRAIN_SIZE")
fi
names=()
for latent_dim in 2 20; do
  for model in elbo mmd; do
    out="$runs/${model}_z$latent_dim"
    names+=("$out")
    options=()
    if [ "$model" = mmd ]; then
      options=(--encoder-type gaussian --likelihood bernoulli --lambda 1000)
    fi
    if [ ! -f "$out/model.keras" ]; then
      "$python" -m mmdvae train --model "$model" --latent-dim "$latent_dim" \
        --network conv --epochs "$epochs" --batch-size 100 "${train_size[@]}" \
        "${options[@]}" --out "$out" --overwrite
    fi
  done
done
for out in "${names[@]}"; do
  "$python" -m mmdvae evaluate "$out" --dataset mnist --num-labelled 100 1000 \
    --noise-std 0.3 --mask-fraction 0.5 --log-likelihood-images "${LL_IMAGES:-100}" \
    --importance-samples 1000 --prior-samples 50000 \
    --num-generated "${NUM_GENERATED:-10000}" "${classifier_size[@]}" --overwrite \
    --out "$out/evaluation.json"
done
"$python" -m mmdvae compare "${names[@]}" --out "$runs/report.md" --overwrite
