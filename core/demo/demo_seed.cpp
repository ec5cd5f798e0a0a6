// The demo shop's data and the seeding sequence: locations, categories, products and stock, then the channel.
#include "demo/demo_seed.h"

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

namespace quanqu::demo {
namespace {

using nlohmann::json;

enum class Kind { apparel, shoes, home };

// One demo product. Variants are colours x sizes (either list may be empty, not both).
struct Spec {
  Kind kind;
  const char* category;  // a leaf category handle
  const char* handle;
  const char* sku;  // SKU stem; a variant appends -COLOUR and -SIZE
  const char* title;
  const char* description;
  const char* material;
  const char* care;
  std::int64_t price;  // CNY fen, VAT included
  std::vector<std::string> colours;
  std::vector<std::string> sizes;
  std::vector<std::int64_t> size_extra = {};  // fen added per size, by index (empty: none)
};

const std::vector<std::string> kApparelSizes{"S", "M", "L", "XL"};

std::vector<std::string> eu(int lo, int hi) {
  std::vector<std::string> out;
  for (int s = lo; s <= hi; ++s) out.push_back(std::to_string(s));
  return out;
}

constexpr const char* kCottonCare = "Machine wash cold, tumble dry low";
constexpr const char* kWoolCare = "Hand wash cold or dry clean, dry flat";
constexpr const char* kLeatherCare = "Wipe clean, condition the leather every few months";
constexpr const char* kCeramicCare = "Dishwasher and microwave safe";

// The catalog. Order matters only for barcodes (assigned in order) and so must stay stable.
const std::vector<Spec>& specs() {
  static const std::vector<Spec> kSpecs{
      // --- T-shirts ---
      {Kind::apparel, "t-shirts", "organic-cotton-tee", "TEE-ORGANIC", "Organic Cotton Tee",
       "Our everyday crew neck in 180 g/m2 GOTS-certified organic cotton, garment-washed for a soft hand "
       "and a relaxed, true-to-size fit.",
       "100% organic cotton", kCottonCare, 12900, {"Navy", "White"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "heavyweight-pocket-tee", "TEE-POCKET", "Heavyweight Pocket Tee",
       "A dense 260 g/m2 jersey tee with a chest pocket and a ribbed collar that keeps its shape wash after wash.",
       "100% cotton", kCottonCare, 14900, {"Black"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "linen-blend-tee", "TEE-LINEN", "Linen Blend Tee",
       "Breathable linen and cotton jersey with a slightly slubby texture, cut a little longer for hot Shanghai "
       "summers.",
       "55% linen, 45% cotton", kCottonCare, 15900, {"Sand"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "striped-breton-tee", "TEE-BRETON", "Striped Breton Tee",
       "The classic sailor stripe in a sturdy interlock cotton, with a wide boat neck and three-quarter sleeves.",
       "100% cotton", kCottonCare, 16900, {"Navy Stripe"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "merino-crew-tee", "TEE-MERINO", "Merino Crew Tee",
       "Fine 17.5-micron merino that regulates temperature and resists odour, for travel days and long hikes.",
       "100% merino wool", kWoolCare, 29900, {"Charcoal"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "west-lake-graphic-tee", "TEE-WESTLAKE", "West Lake Graphic Tee",
       "A soft cotton tee printed with a line drawing of Hangzhou's Broken Bridge in water-based ink.",
       "100% cotton", kCottonCare, 11900, {"White"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "long-sleeve-waffle-tee", "TEE-WAFFLE", "Long-Sleeve Waffle Tee",
       "A textured waffle-knit layer with thumb-friendly cuffs, warm enough for spring evenings on its own.",
       "100% cotton", kCottonCare, 17900, {"Oatmeal"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "performance-running-tee", "TEE-RUN", "Performance Running Tee",
       "A quick-drying, lightweight mesh tee with flatlock seams and reflective details for early-morning runs.",
       "100% recycled polyester", "Machine wash cold, do not tumble dry", 19900, {"Electric Blue"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "slub-v-neck-tee", "TEE-VNECK", "Slub V-Neck Tee",
       "An easy V-neck in a light slub jersey with a subtle irregular texture and a slim fit.",
       "100% cotton", kCottonCare, 9900, {"Olive"}, kApparelSizes},
      {Kind::apparel, "t-shirts", "boxy-cropped-tee", "TEE-BOXY", "Boxy Cropped Tee",
       "A wide, cropped silhouette with dropped shoulders in midweight cotton; pairs well with high-rise trousers.",
       "100% cotton", kCottonCare, 10900, {"Ecru"}, kApparelSizes},
      // --- Hoodies ---
      {Kind::apparel, "hoodies", "classic-pullover-hoodie", "HOODIE-CLASSIC", "Classic Pullover Hoodie",
       "Brushed-back loopback fleece with a double-layer hood, kangaroo pocket and ribbed cuffs.",
       "80% cotton, 20% recycled polyester", kCottonCare, 32900, {"Heather Grey", "Navy"}, kApparelSizes},
      {Kind::apparel, "hoodies", "zip-through-hoodie", "HOODIE-ZIP", "Zip-Through Hoodie",
       "A full-zip hoodie with a metal YKK zip, split kangaroo pockets and a clean, tailored body.",
       "80% cotton, 20% polyester", kCottonCare, 35900, {"Black"}, kApparelSizes},
      {Kind::apparel, "hoodies", "fleece-lined-hoodie", "HOODIE-FLEECE", "Fleece-Lined Hoodie",
       "Heavy 420 g/m2 fleece with a plush sherpa-lined hood for northern winters.",
       "100% cotton shell, polyester sherpa lining", kCottonCare, 39900, {"Forest Green"}, kApparelSizes},
      {Kind::apparel, "hoodies", "lightweight-terry-hoodie", "HOODIE-TERRY", "Lightweight Terry Hoodie",
       "A summer-weight French terry hoodie that layers under a jacket without bulk.",
       "100% cotton", kCottonCare, 27900, {"Dusty Pink"}, kApparelSizes},
      {Kind::apparel, "hoodies", "oversized-logo-hoodie", "HOODIE-LOGO", "Oversized Logo Hoodie",
       "A roomy drop-shoulder hoodie with a small embroidered Quanqu logo at the chest.",
       "100% cotton", kCottonCare, 34900, {"Cream"}, kApparelSizes},
      {Kind::apparel, "hoodies", "half-zip-sweatshirt", "HOODIE-HALFZIP", "Half-Zip Sweatshirt",
       "A stand-collar sweatshirt with a quarter-length zip, smart enough for the office on a Friday.",
       "70% cotton, 30% polyester", kCottonCare, 31900, {"Navy"}, kApparelSizes},
      {Kind::apparel, "hoodies", "tech-shell-hoodie", "HOODIE-SHELL", "Tech Shell Hoodie",
       "A windproof, water-repellent stretch shell with taped seams and a packable hood.",
       "88% nylon, 12% elastane", "Machine wash cold, line dry", 45900, {"Graphite"}, kApparelSizes},
      // --- Trousers ---
      {Kind::apparel, "trousers", "tapered-chino", "CHINO-TAPERED", "Tapered Chino",
       "Stretch cotton twill with a mid rise and a tapered leg; the chino you reach for every day.",
       "98% cotton, 2% elastane", kCottonCare, 29900, {"Khaki", "Navy"}, kApparelSizes},
      {Kind::apparel, "trousers", "relaxed-carpenter-pant", "PANT-CARPENTER", "Relaxed Carpenter Pant",
       "Rugged 12 oz canvas with a hammer loop, tool pockets and a roomy straight leg.",
       "100% cotton canvas", kCottonCare, 36900, {"Brown"}, kApparelSizes},
      {Kind::apparel, "trousers", "drawstring-linen-trouser", "PANT-LINEN", "Drawstring Linen Trouser",
       "Washed European linen with an elastic drawstring waist, cool and easy in the humid months.",
       "100% linen", "Machine wash cold, line dry, iron damp", 33900, {"Natural"}, kApparelSizes},
      {Kind::apparel, "trousers", "selvedge-straight-jean", "JEAN-SELVEDGE", "Selvedge Straight Jean",
       "Raw 14 oz selvedge denim woven on shuttle looms, with a straight leg that fades to your life.",
       "100% cotton denim", "Wash rarely, inside out, cold; line dry", 59900, {"Indigo"}, kApparelSizes},
      {Kind::apparel, "trousers", "jogger-sweatpant", "PANT-JOGGER", "Jogger Sweatpant",
       "Loopback fleece joggers with ribbed ankles, deep pockets and a flat drawcord.",
       "80% cotton, 20% polyester", kCottonCare, 22900, {"Heather Grey"}, kApparelSizes},
      {Kind::apparel, "trousers", "pleated-wool-trouser", "PANT-WOOL", "Pleated Wool Trouser",
       "A single-pleat trouser in a tropical-weight wool that drapes well and travels without creasing.",
       "100% wool", "Dry clean only", 69900, {"Charcoal"}, kApparelSizes},
      {Kind::apparel, "trousers", "ripstop-cargo-pant", "PANT-CARGO", "Ripstop Cargo Pant",
       "Lightweight ripstop cotton with bellows cargo pockets and adjustable ankle tabs.",
       "100% cotton ripstop", kCottonCare, 32900, {"Olive"}, kApparelSizes},
      // --- Sneakers ---
      {Kind::shoes, "sneakers", "canvas-low-top-sneaker", "SNKR-CANVAS", "Canvas Low-Top Sneaker",
       "A vulcanised canvas sneaker with a natural rubber sole and a cushioned cotton insole.",
       "Cotton canvas upper, natural rubber sole", "Spot clean with a damp cloth", 25900, {"White"}, eu(39, 43)},
      {Kind::shoes, "sneakers", "leather-court-sneaker", "SNKR-COURT", "Leather Court Sneaker",
       "Minimal full-grain leather trainers on a stitched cupsole, finished with a padded collar.",
       "Full-grain leather upper, rubber cupsole", kLeatherCare, 59900, {"White"}, eu(40, 44)},
      {Kind::shoes, "sneakers", "knit-running-shoe", "SNKR-KNITRUN", "Knit Running Shoe",
       "A sock-like engineered knit upper over a responsive foam midsole for daily miles.",
       "Recycled polyester knit, EVA midsole", "Hand wash cold, air dry", 49900, {"Black"}, eu(40, 43)},
      {Kind::shoes, "sneakers", "suede-retro-trainer", "SNKR-RETRO", "Suede Retro Trainer",
       "A seventies-inspired runner in soft suede and nylon with a grippy gum sole.",
       "Suede and nylon upper, gum rubber sole", "Brush suede, protect with spray", 52900, {"Tan"}, eu(40, 43)},
      {Kind::shoes, "sneakers", "high-top-canvas-sneaker", "SNKR-HITOP", "High-Top Canvas Sneaker",
       "A high-top canvas classic with metal eyelets and a toe cap that stands up to city streets.",
       "Cotton canvas upper, rubber sole", "Spot clean with a damp cloth", 27900, {"Black"}, eu(38, 41)},
      {Kind::shoes, "sneakers", "trail-runner", "SNKR-TRAIL", "Trail Runner",
       "Aggressive 5 mm lugs, a rock plate and a gusseted tongue for the hills around Moganshan.",
       "Mesh upper, rubber outsole", "Rinse off mud, air dry", 69900, {"Moss"}, eu(41, 44)},
      {Kind::shoes, "sneakers", "slip-on-canvas-shoe", "SNKR-SLIPON", "Slip-On Canvas Shoe",
       "Easy slip-ons with elastic side gores, a padded collar and a waffle sole.",
       "Cotton canvas upper, rubber sole", "Spot clean with a damp cloth", 19900, {"Navy"}, eu(38, 41)},
      {Kind::shoes, "sneakers", "recycled-mesh-trainer", "SNKR-MESH", "Recycled Mesh Trainer",
       "A light everyday trainer whose upper is woven from recycled bottles, on a sugarcane-based foam sole.",
       "Recycled polyester mesh, bio-based foam sole", "Hand wash cold, air dry", 45900, {"Grey"}, eu(39, 42)},
      // --- Boots ---
      {Kind::shoes, "boots", "chelsea-boot", "BOOT-CHELSEA", "Chelsea Boot",
       "A sleek Chelsea boot in waxed leather with elastic gores and a Goodyear-welted rubber sole.",
       "Waxed leather upper, rubber sole", kLeatherCare, 89900, {"Dark Brown"}, eu(40, 44)},
      {Kind::shoes, "boots", "leather-work-boot", "BOOT-WORK", "Leather Work Boot",
       "A six-inch lace-up work boot with a padded collar, speed hooks and an oil-resistant sole.",
       "Full-grain leather upper, rubber lug sole", kLeatherCare, 119900, {"Tan"}, eu(41, 44)},
      {Kind::shoes, "boots", "waterproof-hiking-boot", "BOOT-HIKE", "Waterproof Hiking Boot",
       "A mid-cut hiker with a waterproof membrane, ankle support and a high-traction outsole.",
       "Nubuck and mesh upper, waterproof membrane", "Brush off dirt, air dry away from heat", 99900, {"Slate"},
       eu(40, 43)},
      {Kind::shoes, "boots", "suede-desert-boot", "BOOT-DESERT", "Suede Desert Boot",
       "A two-eyelet desert boot in soft suede on a lightweight crepe sole.",
       "Suede upper, crepe rubber sole", "Brush suede, protect with spray", 69900, {"Sand"}, eu(39, 43)},
      {Kind::shoes, "boots", "lined-winter-boot", "BOOT-WINTER", "Lined Winter Boot",
       "A warm, wool-lined boot with a sealed seam construction for snowy Harbin weekends.",
       "Leather upper, wool lining, rubber sole", kLeatherCare, 79900, {"Black"}, eu(38, 41)},
      {Kind::shoes, "boots", "ankle-zip-boot", "BOOT-ANKLE", "Ankle Zip Boot",
       "A smart ankle boot with an inside zip and a stacked 4 cm heel.",
       "Smooth leather upper, leather-and-rubber sole", kLeatherCare, 75900, {"Black"}, eu(38, 41)},
      // --- Mugs ---
      {Kind::home, "mugs", "stoneware-mug", "MUG-STONEWARE", "Stoneware Mug",
       "A 350 ml reactive-glaze stoneware mug with a generous handle; no two glazes are quite the same.",
       "Stoneware", kCeramicCare, 6900, {"White", "Sage", "Charcoal"}, {}},
      {Kind::home, "mugs", "celadon-glaze-mug", "MUG-CELADON", "Celadon Glaze Mug",
       "A Longquan-style celadon mug thrown by hand, with the jade-green crackle glaze the kilns are known for.",
       "Porcelain", "Hand wash recommended", 8900, {"Celadon"}, {}},
      {Kind::home, "mugs", "double-wall-glass-mug", "MUG-GLASS", "Double-Wall Glass Mug",
       "Borosilicate double-wall glass keeps tea hot and hands cool, and shows off the leaves.",
       "Borosilicate glass", "Dishwasher safe, not for the microwave", 7900, {}, {"250 ml", "350 ml"}, {0, 1000}},
      {Kind::home, "mugs", "enamel-camp-mug", "MUG-ENAMEL", "Enamel Camp Mug",
       "A classic enamelled steel mug with a rolled rim, at home on a balcony or a campsite.",
       "Enamelled steel", "Hand wash", 5900, {"White", "Navy"}, {}},
      {Kind::home, "mugs", "insulated-travel-mug", "MUG-TRAVEL", "Insulated Travel Mug",
       "Vacuum-insulated stainless steel keeps coffee hot for six hours; the lid is leak-proof and fits cup holders.",
       "18/8 stainless steel", "Hand wash", 12900, {}, {"350 ml", "500 ml"}, {0, 2000}},
      {Kind::home, "mugs", "jingdezhen-porcelain-mug", "MUG-PORCELAIN", "Jingdezhen Porcelain Mug",
       "Thin, translucent Jingdezhen porcelain hand-painted in cobalt blue and white.",
       "Porcelain", "Hand wash recommended", 12900, {"Blue and White"}, {}},
      {Kind::home, "mugs", "espresso-cup-pair", "MUG-ESPRESSO", "Espresso Cup Pair",
       "Two 90 ml thick-walled espresso cups that hold heat for a proper crema.",
       "Porcelain", kCeramicCare, 9900, {"Black", "White"}, {}},
      {Kind::home, "mugs", "handmade-speckled-mug", "MUG-SPECKLED", "Handmade Speckled Mug",
       "A small-batch mug in speckled clay with a satin glaze, made in a studio in Yixing.",
       "Stoneware", kCeramicCare, 9900, {"Oat", "Rust"}, {}},
      // --- Textiles ---
      {Kind::home, "textiles", "linen-duvet-cover", "TEX-DUVET", "Linen Duvet Cover",
       "Stonewashed linen that softens with every wash, with hidden button closures.",
       "100% linen", "Machine wash warm, tumble dry low", 79900, {}, {"150x200 cm", "200x230 cm"}, {0, 20000}},
      {Kind::home, "textiles", "waffle-bath-towel", "TEX-TOWEL", "Waffle Bath Towel",
       "A light, fast-drying waffle-weave towel that is kind to small bathrooms.",
       "100% cotton", "Machine wash warm, tumble dry", 12900, {"White", "Sage", "Clay"}, {}},
      {Kind::home, "textiles", "cotton-throw-blanket", "TEX-THROW", "Cotton Throw Blanket",
       "A chunky herringbone throw for the sofa, finished with twisted fringes.",
       "100% cotton", "Machine wash cold, line dry", 39900, {"Oatmeal", "Charcoal"}, {}},
      {Kind::home, "textiles", "washed-linen-napkins", "TEX-NAPKIN", "Washed Linen Napkins, Set of 4",
       "Four generous 45 cm napkins in washed linen with mitred corners.",
       "100% linen", "Machine wash warm", 15900, {"Natural", "Indigo"}, {}},
      {Kind::home, "textiles", "mulberry-silk-pillowcase", "TEX-SILK", "Mulberry Silk Pillowcase",
       "22-momme mulberry silk from Suzhou with an envelope closure; gentle on hair and skin.",
       "100% mulberry silk", "Hand wash cold, line dry in shade", 29900, {"Ivory", "Blush"}, {}},
      {Kind::home, "textiles", "wool-floor-cushion", "TEX-CUSHION", "Wool Floor Cushion",
       "A firm, round floor cushion in felted wool for tea tables and reading corners.",
       "Wool cover, kapok filling", "Spot clean only", 35900, {"Rust"}, {}},
      {Kind::home, "textiles", "indigo-table-runner", "TEX-RUNNER", "Indigo-Dyed Table Runner",
       "A batik table runner hand-dyed with natural indigo by artisans in Guizhou.",
       "100% cotton", "Hand wash cold separately", 16900, {"Indigo"}, {}},
      {Kind::home, "textiles", "percale-sheet-set", "TEX-SHEET", "Percale Sheet Set",
       "Crisp 300-thread-count percale: a fitted sheet, a flat sheet and two pillowcases.",
       "100% long-staple cotton", "Machine wash warm, tumble dry low", 59900, {}, {"150 cm", "180 cm"},
       {0, 10000}},
      // --- Lighting ---
      {Kind::home, "lighting", "rattan-pendant-lamp", "LAMP-RATTAN", "Rattan Pendant Lamp",
       "A hand-woven rattan shade that casts a warm, patterned light; E27 fitting, bulb not included.",
       "Natural rattan", "Dust with a soft brush", 49900, {}, {"40 cm", "60 cm"}, {0, 20000}},
      {Kind::home, "lighting", "ceramic-table-lamp", "LAMP-CERAMIC", "Ceramic Table Lamp",
       "A glazed ceramic base with a linen drum shade and an inline dimmer switch.",
       "Ceramic base, linen shade", "Wipe with a dry cloth", 59900, {"White", "Celadon"}, {}},
      {Kind::home, "lighting", "brass-reading-lamp", "LAMP-BRASS", "Brass Reading Lamp",
       "An adjustable floor lamp in solid brass that will patina beautifully over the years.",
       "Solid brass", "Wipe with a dry cloth", 89900, {"Brass"}, {}},
      {Kind::home, "lighting", "paper-lantern-floor-lamp", "LAMP-LANTERN", "Paper Lantern Floor Lamp",
       "A tall mulberry-paper lantern on a slim bamboo frame, for soft ambient light.",
       "Mulberry paper, bamboo", "Dust gently", 69900, {"White"}, {}},
      {Kind::home, "lighting", "rechargeable-lantern", "LAMP-PORTABLE", "Rechargeable Lantern",
       "A cordless LED lantern with three brightness levels and 20 hours of light, charged over USB-C.",
       "Aluminium, polycarbonate", "Wipe clean", 29900, {"Black", "Sand", "Green"}, {}},
      {Kind::home, "lighting", "led-desk-lamp", "LAMP-DESK", "LED Desk Lamp",
       "A flicker-free desk lamp with adjustable colour temperature and a wireless charging base.",
       "Aluminium", "Wipe with a dry cloth", 39900, {"White", "Black"}, {}},
  };
  return kSpecs;
}

struct CategorySpec {
  const char* handle;
  const char* name;
  const char* parent;  // handle, or nullptr
  int position;
};

constexpr CategorySpec kCategories[] = {
    {"apparel", "Apparel", nullptr, 0},  {"t-shirts", "T-shirts", "apparel", 0},
    {"hoodies", "Hoodies", "apparel", 1}, {"trousers", "Trousers", "apparel", 2},
    {"shoes", "Shoes", nullptr, 1},      {"sneakers", "Sneakers", "shoes", 0},
    {"boots", "Boots", "shoes", 1},       {"home", "Home", nullptr, 2},
    {"mugs", "Mugs", "home", 0},          {"textiles", "Textiles", "home", 1},
    {"lighting", "Lighting", "home", 2},
};

struct LocationSpec {
  const char* code;
  const char* name;
  const char* kind;
  bool pickup;
  Address address;
};

std::vector<LocationSpec> location_specs() {
  auto address = [](const char* name, const char* line1, const char* line2, const char* city, const char* region,
                    const char* postal, const char* phone, double lat, double lon) {
    Address a;
    a.name = name;
    a.line1 = line1;
    a.line2 = line2;
    a.city = city;
    a.region = region;
    a.postal_code = postal;
    a.country = "CN";
    a.phone = phone;
    a.latitude = lat;
    a.longitude = lon;
    return a;
  };
  return {
      {"warehouse-shanghai", "Shanghai Warehouse", "warehouse", false,
       address("Quanqu Shanghai Warehouse", "Building 6, 1999 Jinqiao Road", "Pudong New District", "Shanghai",
               "Shanghai", "201206", "+86 21 5032 0000", 31.2660, 121.6030)},
      {"store-shanghai-jingan", "Shanghai Jing'an Store", "store", true,
       address("Quanqu Jing'an", "1601 Nanjing West Road", "Jing'an District", "Shanghai", "Shanghai", "200040",
               "+86 21 6288 0000", 31.2237, 121.4453)},
      {"store-hangzhou-xihu", "Hangzhou West Lake Store", "store", true,
       address("Quanqu West Lake", "218 Hubin Road", "Shangcheng District", "Hangzhou", "Zhejiang", "310002",
               "+86 571 8706 0000", 30.2575, 120.1631)},
  };
}

// "Heather Grey" -> "HEATHER-GREY", "150x200 cm" -> "150X200-CM": [A-Z0-9] joined by single '-'.
std::string sku_part(std::string_view text) {
  std::string out;
  bool pending_dash = false;
  for (char c : text) {
    bool digit = c >= '0' && c <= '9';
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!digit && !letter) {
      pending_dash = !out.empty();
      continue;
    }
    if (pending_dash) out += '-';
    pending_dash = false;
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

// A valid EAN-13 under GS1 China's 692 prefix: 692 + 4-digit company + 5-digit serial + check digit.
std::string ean13(int serial) {
  std::string digits = "6920451";
  std::string s = std::to_string(serial);
  digits += std::string(5 - s.size(), '0') + s;
  int sum = 0;
  for (int i = 0; i < 12; ++i) sum += (digits[i] - '0') * (i % 2 ? 3 : 1);
  digits += static_cast<char>('0' + (10 - sum % 10) % 10);
  return digits;
}

// A USD shelf price near the CNY one at about 7.2 CNY per USD, ending in .99.
std::int64_t usd_cents(std::int64_t fen) { return (fen + 360) / 720 * 100 - 1; }

// FNV-1a then a SplitMix64 finaliser: a fixed, platform-independent hash for stock numbers.
std::uint64_t stable_hash(std::string_view a, std::string_view b) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(a);
  mix("@");
  mix(b);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// Warehouse 20..200; stores 0..15, a quarter of them sold out.
std::int64_t stock_for(const std::string& sku, std::string_view location_code, bool warehouse) {
  std::uint64_t h = stable_hash(sku, location_code);
  if (warehouse) return 20 + static_cast<std::int64_t>(h % 181);
  std::int64_t v = static_cast<std::int64_t>(h % 20);
  return v >= 16 ? 0 : v;
}

// `index` is the product's place in the table; `serial` the last barcode serial used.
catalog::NewProduct to_new_product(const Spec& spec, const CategoryId& category, std::size_t index, int* serial) {
  catalog::NewProduct p;
  p.handle = spec.handle;
  p.title = spec.title;
  p.description = spec.description;
  p.status = "published";
  p.category_ids = {category};
  p.attributes = json{{"material", spec.material}, {"care", spec.care}, {"brand", "Quanqu Demo"}};
  if (spec.kind == Kind::shoes) p.attributes["size_system"] = "EU";
  std::string base = std::string("https://images.quanqu.dev/demo/") + spec.handle;
  p.images.push_back({base + "-1.jpg", spec.title});
  // Every other product has a second, detail shot.
  if (index % 2 == 1) p.images.push_back({base + "-2.jpg", std::string(spec.title) + ", detail"});

  std::vector<std::string> colours = spec.colours.empty() ? std::vector<std::string>{""} : spec.colours;
  std::vector<std::string> sizes = spec.sizes.empty() ? std::vector<std::string>{""} : spec.sizes;
  for (const auto& colour : colours) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const auto& size = sizes[i];
      catalog::NewVariant v;
      v.sku = spec.sku;
      std::string title;
      if (!colour.empty()) {
        v.options["color"] = colour;
        v.sku += "-" + sku_part(colour);
        title = colour;
      }
      if (!size.empty()) {
        std::string shown = spec.kind == Kind::shoes ? "EU " + size : size;
        v.options["size"] = size;
        v.sku += "-" + sku_part(size);
        title += (title.empty() ? "" : " / ") + shown;
      }
      v.title = title;
      v.barcode = ean13(++*serial);
      std::int64_t fen = spec.price + (i < spec.size_extra.size() ? spec.size_extra[i] : 0);
      v.prices = {Money{fen, "CNY"}, Money{usd_cents(fen), "USD"}};
      p.variants.push_back(std::move(v));
    }
  }
  return p;
}

Result<std::vector<inventory::StockLocation>> ensure_locations(inventory::InventoryService& inventory) {
  std::vector<inventory::StockLocation> out;
  for (const auto& spec : location_specs()) {
    inventory::NewStockLocation in{spec.code, spec.name, spec.kind, spec.address, spec.pickup};
    auto created = inventory.create_location(in);
    if (created) {
      out.push_back(std::move(created).value());
      continue;
    }
    if (created.error().code != "location.code_taken") return std::move(created).error();
    // get_location accepts a code as well as an id.
    QQ_ASSIGN_OR_RETURN(auto existing, inventory.get_location(LocationId(spec.code)));
    out.push_back(std::move(existing));
  }
  return out;
}

Result<std::map<std::string, CategoryId>> ensure_categories(catalog::CatalogService& catalog) {
  std::map<std::string, CategoryId> ids;
  QQ_ASSIGN_OR_RETURN(auto existing, catalog.list_categories());
  for (const auto& c : existing) ids[c.handle] = c.id;
  for (const auto& spec : kCategories) {
    if (ids.count(spec.handle)) continue;
    catalog::NewCategory in{spec.handle, spec.name, std::nullopt, spec.position};
    if (spec.parent) in.parent_id = ids.at(spec.parent);  // parents come first in the table
    QQ_ASSIGN_OR_RETURN(auto created, catalog.create_category(in));
    ids[spec.handle] = created.id;
  }
  return ids;
}

}  // namespace

Result<DemoResult> seed_demo(DemoServices s) {
  DemoResult result;
  auto web = s.channels.get("web");
  if (web) {
    QQ_ASSIGN_OR_RETURN(auto key, s.access.create_publishable_key(web->id, "Demo storefront"));
    result.publishable_key = key.secret;
    return result;
  }
  if (web.error().kind != ErrorKind::not_found) return std::move(web).error();

  QQ_ASSIGN_OR_RETURN(auto locations, ensure_locations(s.inventory));
  QQ_ASSIGN_OR_RETURN(auto categories, ensure_categories(s.catalog));

  std::vector<ProductId> product_ids;
  int serial = 0;
  for (std::size_t i = 0; i < specs().size(); ++i) {
    const Spec& spec = specs()[i];
    catalog::NewProduct in = to_new_product(spec, categories.at(spec.category), i, &serial);
    auto created = s.catalog.create_product(in);
    if (!created && created.error().code == "product.handle_taken")
      created = s.catalog.get_product(spec.handle);  // left by an earlier, interrupted seed
    if (!created) return std::move(created).error();
    const catalog::Product& product = created.value();
    product_ids.push_back(product.id);
    for (const auto& variant : product.variants) {
      for (const auto& location : locations) {
        std::int64_t on_hand = stock_for(variant.sku, location.code, location.kind == "warehouse");
        QQ_TRY(s.inventory.set_on_hand(variant.id, location.id, on_hand));
      }
      ++result.variants;
    }
  }
  result.products = static_cast<int>(product_ids.size());

  channels::NewChannel channel{"web", "Web storefront", "web", "CNY", 1300, true, {}};
  for (const auto& l : locations) channel.location_ids.push_back(l.id);  // warehouse first, then stores
  QQ_ASSIGN_OR_RETURN(auto created_channel, s.channels.create(channel));
  QQ_TRY(s.channels.publish(created_channel.id, product_ids));
  QQ_ASSIGN_OR_RETURN(auto key, s.access.create_publishable_key(created_channel.id, "Demo storefront"));
  result.created = true;
  result.publishable_key = key.secret;
  return result;
}

}  // namespace quanqu::demo
