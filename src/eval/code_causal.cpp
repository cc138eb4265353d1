#include "cfx/eval/code_causal.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "cfx/core/error.h"
#include "cfx/data/shapes_reader.h"
#include "cfx/methods/latent/latent.h"

namespace cfx {

torch::Tensor code_latents(Cvae& G, AttributeClassifier& D, const torch::Tensor& images,
                           uint64_t seed, int64_t batch_size) {
  CFX_CHECK(batch_size >= 1, "batch size must be at least 1, got ", batch_size);
  CFX_CHECK(images.dim() == 4 && images.size(0) >= 1, "images must be [N, C, H, W], got ",
            images.sizes());
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < images.size(0); i += batch_size) {
    auto x = images.slice(0, i, std::min(images.size(0), i + batch_size)).to(G.device());
    auto a0 = D.probs(x).to(G.device());
    rows.push_back(torch::cat({G.encode(x, a0), a0}, 1).cpu());
  }
  // The coins come from their own stream, one per image in order, so a row does not depend on
  // the batch it was encoded in.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto u = torch::rand({images.size(0), 1}, gen);
  return torch::cat({torch::cat(rows), u}, 1).to(torch::kFloat);
}

torch::Tensor code_intervention(const torch::Tensor& a, const torch::Tensor& u, int64_t k, bool on,
                                const torch::Tensor& exclusive) {
  auto out = a.clone();
  auto partners = exclusive.select(0, k).nonzero().flatten().to(torch::kLong);
  const int64_t m = partners.numel();
  if (m > 0) out.index_fill_(1, partners.to(a.device()), 0.0);
  out.select(1, k).fill_(on ? 1.0 : 0.0);
  if (!on && m > 0) {
    // The coin picks one of the m other members: floor(u·m), kept below m.
    auto pick = (u.to(torch::kCPU, torch::kFloat) * static_cast<double>(m))
                    .floor()
                    .to(torch::kLong)
                    .clamp(0, m - 1);
    auto cols = partners.index_select(0, pick).to(a.device());
    auto rows = torch::arange(a.size(0), torch::TensorOptions(torch::kLong).device(a.device()));
    out.index_put_({rows, cols}, torch::ones({a.size(0)}, a.options()));
  }
  return out;
}

InterventionSamples sample_code_interventions(Classifier& F, const std::vector<int64_t>& outcome,
                                              Cvae& G, AttributeClassifier& D,
                                              const torch::Tensor& latents, int64_t batch_size,
                                              const std::string& only, const ProgressFn& progress) {
  CFX_CHECK(batch_size >= 1, "batch size must be at least 1, got ", batch_size);
  const int64_t L = G.latent_dim(), K = D.size();
  CFX_CHECK(latents.defined() && latents.dim() == 2 && latents.size(1) == L + K + 1 &&
                latents.size(0) >= 1,
            "the code latents of ", G.source, " are [S, ", L + K + 1, "] (z, the attribute code, ",
            "a coin), got ", latents.defined() ? latents.sizes() : torch::IntArrayRef{});
  CFX_CHECK(torch::isfinite(latents).all().item<bool>(),
            "the code latents hold NaN or infinite values");
  CFX_CHECK(G.output_shape() == F.input_shape(), "the generator ", G.source,
            " makes images of another shape than the classifier ", F.info().source, " takes");
  const OutcomeReader reader(F, outcome);
  const auto ks = attribute_indices(D, only);
  const auto k_idx = torch::tensor(ks, torch::kLong);
  const auto exclusive = D.exclusive();
  // Shapes images are also read from their pixels: the cvae may satisfy D without drawing.
  const auto reading = shapes_reading_for(D.names(), G.output_shape());
  torch::NoGradGuard ng;
  const int64_t total = latents.size(0);
  InterventionCollector c;
  for (int64_t i = 0; i < total; i += batch_size) {
    auto rows = latents.slice(0, i, std::min(total, i + batch_size)).to(G.device(), torch::kFloat);
    auto z = rows.slice(1, 0, L);
    auto a0 = rows.slice(1, L, L + K);
    auto u = rows.select(1, L + K);
    auto x = G.decode(z, a0);
    torch::Tensor ob, pb;
    reader.read(x, ob, pb);
    c.begin(D.probs(x).cpu().index_select(1, k_idx) > 0.5, ob, pb);
    for (int64_t k : ks) {
      for (bool on : {true, false}) {
        auto xk = G.decode(z, code_intervention(a0, u, k, on, exclusive));
        auto seen = D.probs(xk).select(1, k).cpu() > 0.5;
        torch::Tensor okb, pkb, px;
        reader.read(xk, okb, pkb);
        if (reading) px = read_shapes(xk.clamp(0, 1), *reading).attributes.select(1, k) > 0.5;
        c.add(on, okb, pkb, on ? seen : ~seen, px.defined() && !on ? ~px : px);
      }
    }
    const int64_t done = std::min(total, i + batch_size);
    if (progress) progress(done, total, total - done);
  }
  std::vector<std::string> names;
  for (int64_t k : ks) names.push_back(D.names()[static_cast<size_t>(k)]);
  return c.finish(std::move(names));
}

}  // namespace cfx
