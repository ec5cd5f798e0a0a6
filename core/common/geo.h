// Distances on the Earth between WGS 84 coordinates.
#pragma once

namespace quanqu {

// The great-circle distance in metres between two points given in degrees (haversine on a sphere of
// the mean Earth radius, 6,371,008.8 m: within 0.5 % of the ellipsoid, enough to rank nearby stores).
double haversine_metres(double lat1, double lon1, double lat2, double lon2);

}  // namespace quanqu
