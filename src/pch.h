// Precompiled header: torch is by far the heaviest include; parse it once per target.
#pragma once
#include <torch/script.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>
