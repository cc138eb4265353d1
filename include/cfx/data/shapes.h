// Shapes: a generated dataset whose generative factors are known exactly. Each RGB image shows
// one antialiased object (circle, square or triangle; red, green or blue; of some size,
// position and rotation) on a dark or light grey, slightly noisy background. The class is a
// configurable function of the factors, so the true causes of every label are known and
// explanations can be scored against them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cfx/data/dataset.h"

namespace cfx {

/// How generate_shapes draws a split; every field has a usable default.
struct ShapesOptions {
  std::string split = "train";  // "train" or "test": independent random streams
  uint64_t seed = 0;            // same seed, split and options -> identical dataset
  int64_t count = 10000;        // number of images, >= 1
  int64_t size = 32;            // image side in pixels, 8 to 1024
  std::string rule = "shape";   // class rule, one of shapes_rules()
  double min_radius = 0.15;     // object circumradius, as a fraction of the side, > 0
  double max_radius = 0.30;     // ... upper end, >= min_radius and < 0.5
  double max_rotation = 45.0;   // squares and triangles turn by U(-max, max) degrees, [0, 180]
  double rotated_above = 15.0;  // attribute "rotated" = |rotation| > this many degrees, >= 0
  double colour_jitter = 0.08;  // each RGB channel of the object moves by U(-j, j), [0, 0.3]
  double noise = 0.02;          // standard deviation of the background noise, [0, 0.2]

  /// Throws cfx::Error naming the first field with a bad value and the accepted range.
  void validate() const;
};

/// The class rules: "shape" (circle/square/triangle), "colour" (red/green/blue),
/// "shape-colour" (9 classes "red circle", ...), "red-circle" ("other" vs "red circle";
/// sampled so that half of the images are red circles).
std::vector<std::string> shapes_rules();

/// Class names of `rule` in label order. Throws cfx::Error listing the rules for an unknown one.
std::vector<std::string> shapes_class_names(const std::string& rule);

/// Names of the shapes attributes, all 0/1: "circle", "square", "triangle", "red", "green",
/// "blue", "large" (radius above the middle of its range), "left" (centre x < side/2), "top"
/// (centre y < side/2), "rotated" (|rotation| > rotated_above), "light_background".
std::vector<std::string> shapes_attribute_names();

/// Names of the raw factors (Dataset::factors): "shape" (0 circle, 1 square, 2 triangle),
/// "colour" (0 red, 1 green, 2 blue), "radius" (fraction of the side), "x", "y" (centre, as a
/// fraction of the side), "rotation" (degrees), "background" (grey level in [0, 1]).
std::vector<std::string> shapes_factor_names();

/// How many images a shapes split has when loaded by name (load_dataset("shapes")): 10000
/// for "train", 2000 for "test".
int64_t shapes_split_size(const std::string& split);

/// Generates a shapes split: images [N, 3, S, S], masks [N, 1, S, S] (1 where the object
/// covers at least half a pixel), attributes [N, 11], factors [N, 7], labels by `rule`,
/// sources "shapes:<split>:<index>". Item i depends only on seed, split, i and the options
/// other than count, so a smaller count yields a prefix of a larger one.
Dataset generate_shapes(const ShapesOptions& options);

}  // namespace cfx
