//! The experiment matrix and what running one of its infrastructures
//! needs: the matrix itself (`matrix`, read from its file by
//! `matrix_file`; the reference tool's YAML form read by `reference`, its
//! `deploy_script`s by `scripts`, its keys' lines found by `yaml_lines`),
//! a server brought up by a `start` command and
//! stopped however the run ends (`deployed`), and the `sbatch --wait` of a
//! Slurm infrastructure (`sbatch`). `envload experiment`
//! (`cmd::experiment`) puts them together.

pub mod deployed;
pub mod matrix;
pub mod matrix_file;
pub mod reference;
pub mod sbatch;
pub mod scripts;
pub mod yaml_lines;
