// Messages name options as the caller types them: the command line's flags by default, Python
// keywords once the Python module has set its surface.
#include <gtest/gtest.h>

#include "cfx/core/surface.h"

namespace cfx {
namespace {

// Restores the command line (the default every other test expects) even when a check fails.
struct PythonSurface {
  PythonSurface() { set_surface(Surface::python); }
  ~PythonSurface() { set_surface(Surface::command_line); }
};

TEST(Surface, OptionsAreFlagsOnTheCommandLine) {
  ASSERT_EQ(surface(), Surface::command_line);
  EXPECT_EQ(option("batch-size"), "--batch-size");
  EXPECT_EQ(option("input-shape", "C,H,W", "(C, H, W)"), "--input-shape C,H,W");
  EXPECT_EQ(train_call("classifier", {{"head", "duq"}}), "`cfx train classifier --head duq`");
  EXPECT_EQ(train_call("inpainter", {{"data", "D"}, {"out", "PATH"}}),
            "`cfx train inpainter --data D --out PATH`");
  EXPECT_EQ(train_call("classifier", {{"head", "loss"}, {"head-only", ""}}),
            "`cfx train classifier --head loss --head-only`");
  EXPECT_EQ(for_surface("`cfx methods`", "cfx.methods()"), "`cfx methods`");
}

TEST(Surface, OptionsAreKeywordsInPython) {
  PythonSurface python;
  EXPECT_EQ(option("batch-size"), "batch_size");
  EXPECT_EQ(option("input-shape", "C,H,W", "(C, H, W)"), "input_shape=(C, H, W)");
  // out= always comes first (train's second argument); words are quoted, placeholders not.
  EXPECT_EQ(train_call("classifier", {{"head", "duq"}}),
            "`cfx.train(\"classifier\", out=PATH, head=\"duq\")`");
  EXPECT_EQ(train_call("inpainter", {{"data", "D"}, {"out", "PATH"}, {"epochs", "4"}}),
            "`cfx.train(\"inpainter\", out=PATH, data=D, epochs=4)`");
  EXPECT_EQ(train_call("classifier", {{"head", "loss"}, {"head-only", ""}}),
            "`cfx.train(\"classifier\", out=PATH, head=\"loss\", head_only=True)`");
  EXPECT_EQ(for_surface("`cfx methods`", "cfx.methods()"), "cfx.methods()");
}

}  // namespace
}  // namespace cfx
