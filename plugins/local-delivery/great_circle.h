// Great-circle distance between two WGS 84 points (haversine on the mean Earth radius).
#pragma once

#include <cmath>

namespace local_delivery {

// The IUGG mean Earth radius, in km.
inline constexpr double kEarthRadiusKm = 6371.0088;

// Distance in km between (lat1, lon1) and (lat2, lon2), in degrees, along the Earth's surface
// taken as a sphere: within 0.5 % of the ellipsoid, which is plenty for pricing a delivery.
inline double great_circle_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kRadiansPerDegree = 3.14159265358979323846 / 180.0;
  double phi1 = lat1 * kRadiansPerDegree, phi2 = lat2 * kRadiansPerDegree;
  double half_dphi = (lat2 - lat1) * kRadiansPerDegree / 2, half_dlambda = (lon2 - lon1) * kRadiansPerDegree / 2;
  double a = std::sin(half_dphi) * std::sin(half_dphi) +
             std::cos(phi1) * std::cos(phi2) * std::sin(half_dlambda) * std::sin(half_dlambda);
  if (a > 1) a = 1;  // rounding, for antipodal points
  return 2 * kEarthRadiusKm * std::atan2(std::sqrt(a), std::sqrt(1 - a));
}

}  // namespace local_delivery
