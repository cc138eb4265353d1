// Supervised training of zoo classifiers (`cfx train classifier`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "cfx/data/dataset.h"
#include "cfx/models/zoo.h"

namespace cfx {

struct TrainOptions {
  int64_t epochs = 8;          // passes over the training set
  int64_t batch_size = 128;    // items per step
  double lr = 2e-3;            // peak learning rate (AdamW, linear warm-up then cosine decay)
  double weight_decay = 1e-4;  // decoupled weight decay
  bool augment = true;         // random shifts of up to `shift` pixels
  int64_t shift = 2;           // largest shift in pixels
  bool flip = false;           // also random horizontal flips (off for digits)
  double blur = 0;             // also a Gaussian blur of σ ~ U(0, blur) pixels per item, in
                               // [0, 4]; 0: none. Makes a classifier read soft edges as it
                               // reads sharp ones (generated images are softer than real ones;
                               // docs/claims-latent.md). Needs `augment`.
  uint64_t seed = 0;           // initialisation, shuffling and augmentation
  std::string device = "cpu";  // "cpu" or "cuda"
  // Auxiliary heads (ZooOptions::head); their losses are added to the cross-entropy.
  double duq_weight = 1.0;       // weight of the DUQ loss (BCE + gradient penalty), head "duq"
  double duq_gp_weight = 0.5;    // lambda of DUQ's gradient penalty (||grad_x sum K|| - 1)^2
  int64_t duq_gp_every = 1;      // apply the penalty every k-th batch (double backward is slow)
  double duq_gamma = 0.999;      // EMA decay of the DUQ centroids
  double loss_weight = 1.0;      // weight of the loss estimator's objective, head "loss"
  double loss_margin = 0.1;      // margin of the loss estimator's pairwise ranking loss
  double loss_mse_weight = 0.1;  // weight of its regression term MSE(s, per-sample loss)
  double loss_perturbed = 0.0;   // perturbed copies (loss_inputs.h) per batch item the loss
                                 // estimator also learns from, in [0, 4]; 0: clean items only
                                 // (as Yoo & Kweon); the shipped loss model uses 1
  bool head_only = false;        // train only the auxiliary head: the classifier (backbone,
                                 // class logits, BN statistics) stays as initialised (--init)

  /// Throws cfx::Error naming the first invalid field.
  void validate() const;
  nlohmann::json to_json() const;
};

/// What training reports; stored in the checkpoint sidecar.
struct TrainReport {
  double train_loss = 0;      // mean loss of the last epoch (with the head's weighted loss)
  double train_accuracy = 0;  // on augmented batches of the last epoch
  double test_accuracy = 0;   // on the test split after the last epoch
  double seconds = 0;
  nlohmann::json head = nlohmann::json::object();   // auxiliary head's scores on the test split
                                                    // after the last epoch (evaluate_head)
  nlohmann::json epochs = nlohmann::json::array();  // per-epoch numbers, with the head's
                                                    // scores as "head" (the training curve)
  nlohmann::json to_json() const;
};

/// Per-channel mean and std of a dataset's images ([N, C, H, W]).
std::pair<std::vector<double>, std::vector<double>> channel_stats(const torch::Tensor& images);

/// Trains `net` on `train` with inputs normalised by mean/std, evaluating on `test` (and the
/// head on `ood`, when given) after each epoch. Deterministic for a given seed on one machine.
TrainReport train_classifier(ZooNetImpl& net, const Dataset& train, const Dataset& test,
                             const std::vector<double>& mean, const std::vector<double>& std,
                             const TrainOptions& options, const Dataset* ood = nullptr);

/// How well the auxiliary head of `net` does on `data` (empty for head "linear").
/// "duq": the accuracy of argmax_c K_c, the mean max_c K_c, and how well the certainty
/// max_c K_c flags the classifier's wrong decisions (duq_auroc_errors: AUROC of correct vs
/// wrong items by the class logits' argmax) beside the same AUROC of the softmax's max
/// probability (softmax_auroc_errors, the baseline DUQ is meant to beat); with `ood`
/// (images of another dataset, same shape), the AUROC of max K separating `data` from `ood`
/// (duq_auroc_ood; the DUQ paper's Fashion-MNIST vs MNIST test) and the softmax's
/// (softmax_auroc_ood). "loss": the rank correlation of the predicted and the true per-sample
/// cross-entropy and their means, on `data` and on a perturbed copy of it (loss_inputs.h,
/// fixed seed; losses against the original labels).
nlohmann::json evaluate_head(ZooNetImpl& net, const Dataset& data, const std::vector<double>& mean,
                             const std::vector<double>& std, torch::Device device,
                             const Dataset* ood = nullptr);

/// Accuracy of `net` (eval mode) on a dataset, inputs normalised by mean/std.
double evaluate_accuracy(ZooNetImpl& net, const Dataset& data, const std::vector<double>& mean,
                         const std::vector<double>& std, torch::Device device);

}  // namespace cfx
