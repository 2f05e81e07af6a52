"""The dtypes each op hands its kernels (the C++, CUDA and Triton ones alike), here, below both
the ops that check them and the launchers whose configurations enumerate them; no Triton import."""
import torch

# sigmoid_bce: logits, and the target dtypes the kernels read (bool is viewed as uint8, other
# dtypes are converted to float32 first)
BCE_LOGIT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
BCE_TARGET_DTYPES = (torch.uint8, torch.float32, torch.float16, torch.bfloat16, torch.float64)
# warp: what the kernels take, and what warp_volume accepts (CT and label dtypes besides)
WARP_KERNEL_DTYPES = (torch.uint8, torch.bool, torch.float32, torch.float16, torch.bfloat16, torch.float64)
WARP_VOLUME_DTYPES = WARP_KERNEL_DTYPES + (torch.int16, torch.uint16, torch.int32)
