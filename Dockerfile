# OB-Hypersim toolkit + MoDOT trainer on a CUDA machine.
#
#   docker build -t ob-hypersim .
#   docker run --gpus all --ipc=host -v /data:/data ob-hypersim \
#       obh train --config configs/ob_hypersim.yaml data.root=/data/ob_hypersim output_dir=/data/runs/r1
#
# Built on an official PyTorch image, so torch (and its CUDA libraries) come from the image: the package asks for a
# torch range and pip keeps the image's torch (constraints.txt, the CPU pin of the development set-up, is not used
# here). Pick another tag with --build-arg PYTORCH_IMAGE=pytorch/pytorch:<version>-cuda<x.y>-cudnn9-runtime.
# --ipc=host (or a large --shm-size) is needed for DataLoader workers.
ARG PYTORCH_IMAGE=pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime
FROM ${PYTORCH_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/ob-hypersim
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY obtoolkit ./obtoolkit
COPY obhypersim_build ./obhypersim_build
COPY training ./training
COPY obh ./obh
COPY configs ./configs
COPY manifests ./manifests
# raycast: synthetic scenes and mesh-exact labels (open3d, with libusb from a wheel); cluster: Dask for generation
RUN python -m pip install ".[raycast,cluster]" \
    && python -c "import torch, obtoolkit, training; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

WORKDIR /work
CMD ["obh", "--help"]
