// Where `sd-worker serve` finds the built web UI (ui/dist, served at /ui/): the folder given with
// --ui-dir, else share/sd-worker/ui next to the installed binary (<prefix>/bin/sd-worker ->
// <prefix>/share/sd-worker/ui), else the source tree's ui/dist for a binary run from the build
// tree. A folder counts when it holds index.html.
#pragma once

#include <string>

namespace sdw {

struct UiLocation {
  std::string dir;       // the folder to serve: the one found, else the last place looked at
                         // (a build made while the worker runs is then served without a restart)
  bool built = false;    // whether `dir` holds index.html now
  std::string searched;  // the places looked at, for the log line when none was built
};

UiLocation find_ui_dir(const std::string& configured);

}  // namespace sdw
