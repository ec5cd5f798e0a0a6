// The haversine formula.
#include "common/geo.h"

#include <algorithm>
#include <cmath>

namespace quanqu {

double haversine_metres(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthRadiusMetres = 6371008.8;
  constexpr double kRadians = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * kRadians, dlon = (lon2 - lon1) * kRadians;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kRadians) * std::cos(lat2 * kRadians) * std::sin(dlon / 2) * std::sin(dlon / 2);
  // Rounding may push `a` a hair above 1 for antipodal points.
  a = std::clamp(a, 0.0, 1.0);
  return 2 * kEarthRadiusMetres * std::asin(std::sqrt(a));
}

}  // namespace quanqu
