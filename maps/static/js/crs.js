/**
 * crs.js — WGS 84 → GCJ-02 for basemaps from Chinese providers.
 *
 * gridplan's layers are WGS 84 (RFC 7946). Tiles from AMap, Tencent and other
 * GCJ-02 providers are drawn in the shifted system, so when the configured
 * tiles are GCJ-02 (`tile_crs: "gcj02"` in /api/info) every layer is shifted the
 * same way before drawing. Outside China the shift is zero. The formula is the
 * widely published one (Krasovsky 1940 ellipsoid), good to about a metre.
 */

const A = 6378245.0;
const EE = 0.00669342162296594323;

function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function dLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function dLon(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

/** [lon, lat] in WGS 84 → [lon, lat] in GCJ-02. */
export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  let la = dLat(lon - 105, lat - 35);
  let lo = dLon(lon - 105, lat - 35);
  const rad = (lat / 180) * Math.PI;
  let magic = Math.sin(rad);
  magic = 1 - EE * magic * magic;
  const sq = Math.sqrt(magic);
  la = (la * 180) / (((A * (1 - EE)) / (magic * sq)) * Math.PI);
  lo = (lo * 180) / ((A / sq) * Math.cos(rad) * Math.PI);
  return [lon + lo, lat + la];
}
