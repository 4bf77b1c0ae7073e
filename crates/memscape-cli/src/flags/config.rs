//! The library configurations that shared flag groups build: a training configuration, a
//! sampling plan, census settings, a pruning rule, a noise process and spacing.

use memscape::noise::{NoiseProcess, Spacing, VpSchedule};

use super::groups::{
    CensusFlags, IntegratorArgs, LrScheduleArg, NetArg, ObjectiveArg, ParametrizationArg, Process,
    PruningArgs, SpacingArg, TrainArgs,
};

impl NetArg {
    pub fn architecture(self) -> memscape_train::Architecture {
        match self {
            NetArg::Mlp => memscape_train::Architecture::Mlp,
            NetArg::Unet => memscape_train::Architecture::Unet,
        }
    }
}

impl TrainArgs {
    /// The library's training configuration of a network of `architecture` for `steps` steps
    /// and `checkpoints` checkpoints (the image shape comes from the data later).
    pub fn config(
        &self,
        architecture: memscape_train::Architecture,
        steps: usize,
        checkpoints: usize,
    ) -> memscape_train::TrainConfig {
        memscape_train::TrainConfig {
            architecture,
            unet_base: self.unet_base,
            unet_mults: self.unet_mults.clone(),
            unet_blocks: self.unet_blocks,
            unet_groups: self.unet_groups,
            image_shape: None,
            width: self.width,
            depth: self.depth,
            fourier_features: self.fourier_features,
            fourier_scale: self.fourier_scale,
            steps,
            stop_at: self.stop_at,
            batch_size: self.train_batch,
            lr: self.lr,
            lr_schedule: match self.lr_schedule {
                LrScheduleArg::Constant => memscape_train::optim::LrSchedule::Constant,
                LrScheduleArg::Cosine => memscape_train::optim::LrSchedule::Cosine,
            },
            warmup: self.warmup,
            weight_decay: self.weight_decay,
            dropout: self.dropout,
            input_noise: self.input_noise,
            ema: self.ema,
            objective: match self.objective {
                ObjectiveArg::Ve => memscape_train::Objective::Ve,
                ObjectiveArg::Vp => memscape_train::Objective::Vp,
            },
            parametrization: match self.parametrization {
                ParametrizationArg::Epsilon => {
                    memscape_train::precondition::Parametrization::Epsilon
                }
                ParametrizationArg::Edm => memscape_train::precondition::Parametrization::Edm,
            },
            sigma_min: self.train_sigma_min,
            sigma_max: self.train_sigma_max,
            checkpoints,
            seed: self.train_seed,
        }
    }
}

impl Process {
    pub fn noise_process(self) -> NoiseProcess {
        match self {
            Process::Ve => NoiseProcess::Ve,
            Process::Vp => NoiseProcess::Vp(VpSchedule::DDPM_LINEAR),
            Process::VpCosine => NoiseProcess::Vp(VpSchedule::COSINE),
        }
    }
}

impl SpacingArg {
    pub fn spacing(self) -> Spacing {
        match self {
            SpacingArg::Karras => Spacing::Karras { rho: 7.0 },
            SpacingArg::Geometric => Spacing::Geometric,
            SpacingArg::LinearT => Spacing::LinearT,
        }
    }
}

impl IntegratorArgs {
    /// The library's sampling plan with `num_steps` noise levels (checks --sampler and --eta).
    pub fn plan(&self, num_steps: usize) -> memscape::Result<memscape::sampler::SamplingPlan> {
        Ok(memscape::sampler::SamplingPlan {
            kind: memscape::sampler::SamplerKind::parse(&self.sampler, self.eta)?,
            process: self.process.noise_process(),
            spacing: self.spacing.spacing(),
            sigma_max: self.sigma_max,
            sigma_min: self.sigma_min,
            num_steps,
            seed: self.seed,
            batch_size: self.batch_size,
        })
    }
}

impl CensusFlags {
    /// The library's settings.
    pub fn settings(&self) -> memscape::analysis::landscape::attractor::CensusSettings {
        memscape::analysis::landscape::attractor::CensusSettings {
            margin: self.margin,
            settle_tolerance: self.settle_tol,
            settle_max_step: self.settle_max_step,
        }
    }
}

impl PruningArgs {
    pub fn pruning(&self) -> anyhow::Result<memscape::denoiser::Pruning> {
        use memscape::denoiser::Pruning;
        Ok(match (self.no_prune, self.prune_tol) {
            (true, _) => Pruning::Off,
            (false, Some(t)) => Pruning::tolerance(t)?,
            (false, None) => Pruning::Auto,
        })
    }
}
