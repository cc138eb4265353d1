// The shapes renderer inverted: a shapes image's factors and attributes measured from its
// pixels, with no learned model. It reads what an image shows, not what a classifier was
// trained to answer, so it checks generators that learned to fool their attribute classifier
// (issue 14: "leakage by the renderer's truth"). On the renderer's own images it recovers
// every attribute (tests/data/test_shapes_reader.cpp); on a generator's it reads the object
// the same way, so a background request answered with anything but a new background, or a
// square drawn as a blob, shows up.
#pragma once

#include <torch/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cfx/data/shapes.h"

namespace cfx {

/// What read_shapes() measures, one row per image.
struct ShapesReading {
  /// [N, 7] float32 in Dataset::factors' layout (shapes_factor_names()): shape (0 circle,
  /// 1 square, 2 triangle), colour (0 red, 1 green, 2 blue), radius (fraction of the side),
  /// x, y (centre, fraction of the side), rotation (degrees; 0 for a circle), background
  /// (grey level). An image with no coloured object reads shape and colour -1.
  torch::Tensor factors;
  /// [N, 11] float32 0/1, shapes_attribute_names() derived from `factors` as the renderer
  /// derives them; all shape and colour bits 0 where no object was found.
  torch::Tensor attributes;
  /// [N] float32: how strongly the object shows its strongest polygon harmonic (a square's
  /// fourth or a triangle's third), as a share of the renderer's own polygon's — about 1 for
  /// the renderer's squares and triangles, below 0.1 for its circles, 0 with no object. The
  /// reader calls the object a polygon from 0.4, so a square drawn with rounded corners can
  /// read as a square at 0.5 while a classifier trained on crisp corners sees a circle.
  torch::Tensor polygon;
};

/// Reads images [N, 3, S, S] (values in [0, 1]) drawn as the shapes renderer draws with
/// `options` (its size must be S; the radius range and rotated_above define large and
/// rotated). How, per image: the background and its noise are grey and the object saturated,
/// so a pixel's chroma (max − min over RGB) is the share of it the object covers times the
/// object's own chroma. The object is the largest 8-connected region of coloured pixels
/// (chroma ≥ 0.1) with its one-pixel rim; any other coloured patch is neither object nor
/// background. Its most saturated pixels give its colour (the nearest of the renderer's
/// three), chroma over theirs the coverage α; Σα is the area and the α-weighted mean position
/// the centre (both sub-pixel). The shape comes from the 3- and 4-fold angular harmonics of
/// α·r² about the centre (a triangle's third, a square's fourth, neither for a circle), its
/// rotation from their phase, the radius from the area by that shape's formula, and the
/// background is the median grey of the pixels neither object nor coloured.
/// Throws cfx::Error for images of another shape or size, or with values outside [0, 1].
ShapesReading read_shapes(const torch::Tensor& images, const ShapesOptions& options = {});

/// The same two polygon harmonics as read_shapes() measures, differentiable, for training a
/// generator to draw corners (`cfx train cvae --corners`): images [N, 3, S, S] in [0, 1] →
/// {third, fourth} [N] each, as shares of the renderer's triangle's and square's (≈ 1 on its
/// triangles and squares respectively, ≈ 0 on its circles). Where read_shapes() finds the
/// object as a connected region, this weighs every pixel by its coverage (chroma over the
/// image's most saturated pixel, less the reader's coloured threshold), so stray colour counts.
std::pair<torch::Tensor, torch::Tensor> shapes_polygon_harmonics(const torch::Tensor& images);

/// The options to read a generator's images with, if they can be read: `shape` [C, H, W] is
/// 3 x S x S and `attributes` are shapes_attribute_names() in their order (its conditions or
/// its attribute classifier's); otherwise none.
std::optional<ShapesOptions> shapes_reading_for(const std::vector<std::string>& attributes,
                                                const std::vector<int64_t>& shape);

}  // namespace cfx
