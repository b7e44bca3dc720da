import type { NextConfig } from "next";

/**
 * The dashboard is one dynamic page plus static assets. Everything it needs ships in the build:
 * no web fonts, no remote images, nothing fetched from a CDN, so it runs air-gapped.
 */
const nextConfig: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The Next.js badge overlays the alert log in development screenshots.
  devIndicators: false,
  images: { unoptimized: true },
};

export default nextConfig;
