// Everything a C++ user of cfx needs: classifiers, datasets, methods, explain(), the
// saliency metrics and in-fillers.
#pragma once

#include "cfx/core/device.h"
#include "cfx/core/error.h"
#include "cfx/core/seed.h"
#include "cfx/core/threads.h"
#include "cfx/data/dataset.h"
#include "cfx/data/image_io.h"
#include "cfx/data/inputs.h"
#include "cfx/eval/causal.h"
#include "cfx/eval/explain.h"
#include "cfx/eval/metrics.h"
#include "cfx/eval/saliency_metrics.h"
#include "cfx/methods/latent/latent.h"
#include "cfx/methods/registry.h"
#include "cfx/methods/saliency/infill.h"
#include "cfx/models/attributes.h"
#include "cfx/models/classifier.h"
#include "cfx/models/generator.h"
#include "cfx/models/inpainter.h"
#include "cfx/models/shifter.h"
#include "cfx/models/vae.h"
