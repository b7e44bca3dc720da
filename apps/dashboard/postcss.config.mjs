/** Tailwind CSS 4 runs as a PostCSS plugin; it scans the sources itself. */
export default {
  plugins: {
    "@tailwindcss/postcss": {},
  },
};
