import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: "floodwatch",
  description: "Live DDoS anomaly detection on flow records",
};

export const viewport: Viewport = {
  colorScheme: "dark",
  themeColor: "#020617",
};

/** The document shell: no fonts or assets from the network, so it works air-gapped. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen font-sans">{children}</body>
    </html>
  );
}
