// FID: the Fréchet distance against closed forms, and statistics of samples.
#include <gtest/gtest.h>

#include <cmath>

#include "cfx/core/error.h"
#include "cfx/eval/fid.h"

using namespace cfx;

namespace {

GaussianStats make(const torch::Tensor& mean, const torch::Tensor& cov) {
  GaussianStats s;
  s.mean = mean.to(torch::kDouble);
  s.cov = cov.to(torch::kDouble);
  s.n = 1000;
  return s;
}

// A fixed 3×3 rotation.
torch::Tensor rotation() {
  auto q = std::get<0>(torch::linalg_qr(
      torch::tensor({{1.0, 2.0, 0.5}, {0.3, -1.0, 2.0}, {2.0, 0.1, -0.7}}, torch::kDouble)));
  return q;
}

}  // namespace

TEST(Fid, ClosedFormForGaussiansWithCommutingCovariances) {
  // Same eigenvectors R: FID = ‖μ₁ − μ₂‖² + Σᵢ (√λᵢ − √νᵢ)².
  auto R = rotation();
  auto l = torch::tensor({4.0, 1.0, 0.25}, torch::kDouble),
       v = torch::tensor({1.0, 9.0, 0.25}, torch::kDouble);
  auto a = make(torch::tensor({0.0, 1.0, 2.0}), R.matmul(torch::diag(l)).matmul(R.t()));
  auto b = make(torch::tensor({1.0, 1.0, 0.0}), R.matmul(torch::diag(v)).matmul(R.t()));
  double expect = 1 + 0 + 4 + std::pow(2 - 1, 2) + std::pow(1 - 3, 2) + 0;
  EXPECT_NEAR(frechet_distance(a, b), expect, 1e-9);
  EXPECT_NEAR(frechet_distance(b, a), expect, 1e-9);
  EXPECT_NEAR(frechet_distance(a, a), 0.0, 1e-9);
}

TEST(Fid, ClosedFormForNonCommutingCovariances) {
  // Σ₁ = diag(1, 0) (rank-deficient), Σ₂ = [[2, 1], [1, 2]]: Σ₁^½ Σ₂ Σ₁^½ = diag(2, 0), so
  // tr(...)^½ = √2 and FID = 1 + 4 − 2√2 with equal means.
  auto a = make(torch::zeros({2}), torch::tensor({{1.0, 0.0}, {0.0, 0.0}}));
  auto b = make(torch::zeros({2}), torch::tensor({{2.0, 1.0}, {1.0, 2.0}}));
  EXPECT_NEAR(frechet_distance(a, b), 5 - 2 * std::sqrt(2.0), 1e-9);
  // Symmetric in its arguments, although the square roots are taken differently. This way
  // round the inner matrix has a zero eigenvalue computed as ~1e-16, whose square root adds
  // ~1e-8: the square root of a rank-deficient matrix is only accurate to about √ε.
  EXPECT_NEAR(frechet_distance(b, a), 5 - 2 * std::sqrt(2.0), 1e-7);
}

TEST(Fid, SampleStatisticsApproachTheClosedForm) {
  torch::manual_seed(3);
  const int64_t n = 200000;
  auto x = torch::randn({n, 2}, torch::kDouble) * torch::tensor({1.0, 2.0}, torch::kDouble);
  auto y = torch::randn({n, 2}, torch::kDouble) * 3.0 + torch::tensor({1.0, 0.0}, torch::kDouble);
  auto sx = gaussian_stats(x), sy = gaussian_stats(y);
  EXPECT_EQ(sx.n, n);
  // diag(1, 4) vs diag(9, 9), means 1 apart: 1 + (1 − 3)² + (2 − 3)² = 6.
  EXPECT_NEAR(frechet_distance(sx, sy), 6.0, 0.1);
  // The mixture of two halves of the data has the statistics of the whole.
  auto h1 = gaussian_stats(y.slice(0, 0, n / 4)), h2 = gaussian_stats(y.slice(0, n / 4, n));
  auto mix = mixture_stats({h1, h2}, {1.0, 3.0});
  EXPECT_TRUE(torch::allclose(mix.mean, sy.mean, 1e-9, 1e-9));
  EXPECT_TRUE(torch::allclose(mix.cov, sy.cov, 1e-3, 1e-3));
  EXPECT_THROW(gaussian_stats(torch::zeros({1, 3})), Error);
  EXPECT_THROW(mixture_stats({h1}, {0.0}), Error);
}
