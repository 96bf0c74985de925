"""What the diagnosis knows by name: the distribution behind an import name, the alternatives
that provide one module, and the launch-argument remedies for GPU and memory failures."""

from __future__ import annotations

# Import names whose distribution is named otherwise (when nothing installed owns the module).
IMPORT_NAMES = {
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "google": "protobuf",
    "attr": "attrs",
    "git": "gitpython",
    "dateutil": "python-dateutil",
    "jwt": "pyjwt",
    "Crypto": "pycryptodome",
    "bs4": "beautifulsoup4",
    "fitz": "pymupdf",
    "OpenGL": "pyopengl",
    "serial": "pyserial",
    "dotenv": "python-dotenv",
    "lark": "lark",
    "pkg_resources": "setuptools",
    "ldm": "",
    "clip": "clip",
    "open_clip": "open-clip-torch",
    "pytorch_lightning": "pytorch-lightning",
    "lightning_fabric": "lightning-fabric",
    "k_diffusion": "k-diffusion",
    "onnxruntime": "onnxruntime-gpu",
    "insightface": "insightface",
    "mediapipe": "mediapipe",
    "segment_anything": "segment-anything",
    "basicsr": "basicsr",
    "facexlib": "facexlib",
    "gfpgan": "gfpgan",
    "realesrgan": "realesrgan",
    "diffusers": "diffusers",
    "huggingface_hub": "huggingface-hub",
    "torchvision": "torchvision",
    "comfyui_frontend_package": "comfyui-frontend-package",
    "importlib_metadata": "importlib-metadata",
    "typing_extensions": "typing-extensions",
    "sentencepiece": "sentencepiece",
    "tomli": "tomli",
    "docx": "python-docx",
    "magic": "python-magic",
    "win32api": "pywin32",
}
# Distributions that provide the same import name: any one of them installed provides it.
ALTERNATIVES = {
    "opencv-python": (
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "onnxruntime-gpu": (
        "onnxruntime-gpu",
        "onnxruntime",
        "onnxruntime-directml",
        "onnxruntime-openvino",
    ),
}

# Catalogue entries whose remedy is a launch argument: the purpose in [launch.flags] and what the
# argument does there.
_GPU = (
    "Install or repair the GPU driver and the GPU build of torch for the card ('repair' "
    "restores the torch build the install had)."
)
_VRAM = (
    "Use a smaller resolution or batch, close other programs that use the GPU, and "
    "restart the application to free its memory."
)
FLAG_REMEDIES = {
    "found-no-nvidia-driver": (
        "cpu",
        "to run on the CPU until the GPU works",
        "Install or repair the NVIDIA driver (nvidia-smi must list the "
        "card); on an AMD or Intel GPU use the application's build for it.",
    ),
    "torch-cannot-use-gpu-startup-check": ("cpu", "to run on the CPU on purpose", _GPU),
    "half-precision-on-cpu": ("cpu", "to run on the CPU on purpose", _GPU),
    "cuda-out-of-memory": ("low_vram", "to trade speed for GPU memory", _VRAM),
    "torch-oom-allocation-on-device": ("low_vram", "to trade speed for GPU memory", _VRAM),
    "hip-out-of-memory": ("low_vram", "to trade speed for GPU memory", _VRAM),
    "directml-could-not-allocate-tensor": ("low_vram", "to trade speed for GPU memory", _VRAM),
    "nans-produced-in-vae": (
        "fp32_vae",
        "to decode in full precision",
        "Use an fp16-safe VAE, or decode in full precision.",
    ),
    "nans-produced-in-unet": (
        "full_precision",
        "to compute in full precision",
        "Try another attention optimisation or model, or compute in full precision.",
    ),
    "mat1-mat2-dtype-mismatch": (
        "full_precision",
        "to compute in full precision",
        "Make the precision settings agree (one extension or flag asks "
        "for half precision, another for full).",
    ),
    "xformers-built-for-other-torch": (
        "no_xformers",
        "meanwhile",
        "Install the xFormers build for the installed torch "
        "(plain 'repair' aligns the torch family).",
    ),
    "xformers-no-operator-found": (
        "no_xformers",
        "meanwhile",
        "Install the xFormers build for the installed torch (plain "
        "'repair' aligns the torch family).",
    ),
}
