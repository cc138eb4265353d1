// The shapes renderer as an exact generator (METHODS.md §3, "oracle generator"): a scene is
// the factor vector an image was drawn from, so an attribute can be set in the scene and the
// image drawn again with everything else — the other factors and the background noise — left
// as it was. Causal scores computed through it are the classifier's true ones.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "cfx/data/shapes.h"

namespace cfx {

/// Scenes of shapes images, one row each.
struct ShapesScenes {
  ShapesOptions options;  // how they were drawn (seed, split, size, noise: the noise streams)
  /// [N, 10] float64: shape (0 circle, 1 square, 2 triangle), colour (0 red, 1 green, 2 blue),
  /// radius, cx, cy (pixels; pixel centres at integers), rotation (degrees), background (grey
  /// level), r, g, b (the object's colour after jitter).
  torch::Tensor scenes;
  /// [N] int64: the item whose background noise each scene is drawn with.
  torch::Tensor items;
  int64_t size() const { return scenes.defined() ? scenes.size(0) : 0; }
};

/// The scenes generate_shapes(options) draws, in its order.
ShapesScenes shapes_scenes(const ShapesOptions& options);

/// Draws the scenes: [N, 3, S, S] float in [0, 1], and into `masks` (if given) the objects'
/// masks [N, 1, S, S]. Unedited scenes give generate_shapes()'s images and masks bit for bit.
/// Throws cfx::Error for a row that is not a scene (factor out of range).
torch::Tensor render_shapes(const ShapesScenes& scenes, torch::Tensor* masks = nullptr);

/// The 11 attributes (shapes_attribute_names()) of each scene: [N, 11] float 0/1, computed as
/// generate_shapes() computes them.
torch::Tensor shapes_scene_attributes(const ShapesScenes& scenes);

/// do(attribute on) or do(attribute off), the smallest change of the scene that gives the
/// attribute the requested state, leaving every other factor as it was. A scene that already
/// has the state is unchanged. Per attribute (0 to 10 in shapes_attribute_names() order):
///  - circle/square/triangle on: that shape; off: one of the other two (chosen per item,
///    reproducibly). Rotation is kept (it draws nothing on a circle).
///  - red/green/blue: the same, recolouring with the object's own jitter kept.
///  - large: the radius moves by half the radius range, into the other half (keeping its place
///    within it); the centre moves only as far as needed to keep the object inside.
///  - left/top: the centre mirrors across the middle of the image.
///  - rotated: |rotation| moves into the other side of rotated_above, keeping its sign and its
///    place within the range (impossible when max_rotation <= rotated_above: unchanged).
///  - light_background: the grey level moves into the other range, keeping its place in it.
/// Throws cfx::Error for an attribute index out of range.
ShapesScenes intervene_shapes(const ShapesScenes& scenes, int64_t attribute, bool on);

/// Each scene moved to the attributes `wanted` asks for ([N, 11] 0/1, any device): every
/// attribute whose state differs gets intervene_shapes()'s smallest change, the ones turned on
/// first (so "square on, circle off" turns a circle into a square, not into a triangle first).
/// A request no scene can show — an exclusive group (shape, colour) with no member or two on,
/// "rotated" when nothing in range is — leaves some attribute unlike the request: compare
/// shapes_scene_attributes() of the result with `wanted` to find those rows. The true edit a
/// generator's G(z, a') should draw (`cfx train cvae --paired`).
ShapesScenes set_shapes_attributes(const ShapesScenes& scenes, const torch::Tensor& wanted);

}  // namespace cfx
