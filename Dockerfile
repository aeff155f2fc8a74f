# The image with the job's and the app's dependencies baked in: built by ACR from this repository
# when the stack sets `prebuiltImage: true` (stacks/registry.py), never needed otherwise.
# BASE is the stack's `image` (CUDA + PyTorch); the sets land where the bootstrap looks first.
ARG BASE=docker.io/pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime
FROM ${BASE}
WORKDIR /opt/ftk
COPY bootstrap/ bootstrap/
COPY contract/ contract/
COPY requirements-train.lock requirements-serve.lock ./
RUN python -m bootstrap env requirements-train.lock --root /opt/ftk/envs \
 && python -m bootstrap env requirements-serve.lock --root /opt/ftk/envs
ENV FTK_PREBUILT_ENVS=/opt/ftk/envs
