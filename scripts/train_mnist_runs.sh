#!/usr/bin/env bash
# Trains the four MNIST models whose measures the README reports:
# ELBOVAE and MMDVAE at latent sizes 2 and 20, conv network, 3 epochs each.
# The MMD-VAE uses a Gaussian encoder and the Bernoulli likelihood summed over
# pixels (so its log-likelihood can be estimated), with the InfoVAE paper's
# weight lambda = 1000 for summed likelihoods.
# Usage: scripts/train_mnist_runs.sh RUNS_DIR   (needs MMDVAE_DATA_DIR)
set -euo pipefail
runs=${1:?usage: $0 RUNS_DIR}
python=${PYTHON:-python}
epochs=${EPOCHS:-3}
for latent_dim in 2 20; do
  flock /tmp/mmdvae-heavy.lock "$python" -m mmdvae train --model elbo \
    --latent-dim "$latent_dim" --network conv --epochs "$epochs" --batch-size 100 \
    --out "$runs/elbo_z$latent_dim"
  flock /tmp/mmdvae-heavy.lock "$python" -m mmdvae train --model mmd \
    --latent-dim "$latent_dim" --network conv --epochs "$epochs" --batch-size 100 \
    --encoder-type gaussian --reconstruction bernoulli --lambda 1000 \
    --out "$runs/mmd_z$latent_dim"
done
