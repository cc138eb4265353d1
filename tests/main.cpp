// The test binary's main: GoogleTest's, plus --cfx-fixtures=DIR, the folder ctest's
// toy_fixtures test wrote the toy classifiers into (helpers.h). Passed as an argument
// because gtest_discover_tests cannot give a test two environment variables.
#include <gtest/gtest.h>

#include <string>

#include "helpers.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string flag = "--cfx-fixtures=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(flag, 0) == 0) cfx::testing::set_fixture_dir(a.substr(flag.size()));
  }
  return RUN_ALL_TESTS();
}
